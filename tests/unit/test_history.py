"""``mirror.core.history``: the sync history record, its cap, heartbeats and latest runs."""

from __future__ import annotations

import datetime as dt

from blobpi.mirror.core.history import (
    HEARTBEAT,
    KEEP,
    SyncRun,
    add_run,
    heartbeat_due,
    latest,
    parse_runs,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_history__round_trips_and_caps() -> None:
    record: dict[str, object] = {}
    for i in range(KEEP + 5):
        record = add_run(record, SyncRun("1/1", T0 + dt.timedelta(minutes=i), ok=True, added=i))
    runs = parse_runs(record)
    assert len(runs) == KEEP and runs[0].added == 5 and runs[-1].added == KEEP + 4


def test_history__keeps_five_failure_messages_and_the_count() -> None:
    run = SyncRun("1/1", T0, ok=False, failures=tuple(f"f{i}" for i in range(9)), failed=9)
    (back,) = parse_runs(add_run({}, run))
    assert back.failures == ("f0", "f1", "f2", "f3", "f4") and back.failed == 9


def test_history__skips_entries_it_cannot_read() -> None:
    good = add_run({}, SyncRun("1/1", T0, ok=True))["runs"]
    record = {"runs": [{"shard": "1/1"}, {"finished": "not a time"}, *good, {"x": 1}]}
    assert [r.finished for r in parse_runs(record)] == [T0]


def test_history__latest_per_shard_and_last_success() -> None:
    runs = [
        SyncRun("1/2", T0, ok=True),
        SyncRun("2/2", T0 + dt.timedelta(hours=1), ok=True),
        SyncRun("1/2", T0 + dt.timedelta(hours=2), ok=False),
    ]
    assert {s: r.ok for s, r in latest(runs).items()} == {"1/2": False, "2/2": True}
    assert latest(runs, ok_only=True)["1/2"].finished == T0


def test_history__heartbeat_when_stale_or_the_outcome_changes() -> None:
    runs = [SyncRun("1/1", T0, ok=True)]
    assert not heartbeat_due(runs, "1/1", True, T0 + HEARTBEAT - dt.timedelta(seconds=1))
    assert heartbeat_due(runs, "1/1", True, T0 + HEARTBEAT)
    assert heartbeat_due(runs, "1/1", False, T0 + dt.timedelta(seconds=1))
    assert heartbeat_due(runs, "2/2", True, T0)  # a shard never recorded
