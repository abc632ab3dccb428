"""The sync history: one small record (``layout.history_path``) of the recent runs of every
shard, which the sync appends to and the server reads for ``/metrics`` and the status page.

Pure: JSON in, JSON out. A run that changed nothing writes nothing to the store, so a
steady-state sync would look stale; it records a *heartbeat* run at most once per
``HEARTBEAT`` instead, and the age of the last success is exact to within that interval.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["HEARTBEAT", "KEEP", "SyncRun", "add_run", "heartbeat_due", "latest", "parse_runs"]

HEARTBEAT = dt.timedelta(hours=1)
KEEP = 200  # runs kept, all shards together: enough for a week of hourly runs
_MESSAGES = 5  # failure messages kept per run; the report in state/ has all of them


@dataclasses.dataclass(frozen=True, slots=True)
class SyncRun:
    shard: str  # "K/N"
    finished: dt.datetime
    ok: bool
    upstream: str = ""  # without credentials
    projects: int = 0
    added: int = 0  # files
    added_bytes: int = 0
    pruned: int = 0
    deleted: int = 0
    removed_projects: int = 0
    failures: tuple[str, ...] = ()
    failed: int = 0  # how many, when more than the messages kept
    seconds: float = 0.0
    files_total: int = 0  # the shard's files on its pages after the run
    bytes_total: int = 0

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["finished"] = self.finished.astimezone(dt.UTC).isoformat()
        data["failures"] = list(self.failures[:_MESSAGES])
        return data

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> SyncRun:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in raw.items() if k in fields}
        values["finished"] = dt.datetime.fromisoformat(raw["finished"])
        values["failures"] = tuple(raw.get("failures", ()))
        return cls(**values)


def parse_runs(record: Mapping[str, Any]) -> list[SyncRun]:
    """The runs of a stored record, oldest first; entries that do not parse are skipped
    (a record written by a newer blobpi must not break an older server)."""
    runs = []
    for raw in record.get("runs", []):
        try:
            runs.append(SyncRun.from_json(raw))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(runs, key=lambda r: r.finished)


def add_run(record: Mapping[str, Any], run: SyncRun) -> dict[str, Any]:
    """``record`` with ``run`` appended and the oldest runs beyond ``KEEP`` dropped.

    >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> record = add_run({}, SyncRun("1/1", now, ok=True))
    >>> [r.ok for r in parse_runs(add_run(record, SyncRun("1/1", now, ok=False)))]
    [True, False]
    """
    runs = [*parse_runs(record), run][-KEEP:]
    return {"runs": [r.to_json() for r in runs]}


def latest(runs: Iterable[SyncRun], *, ok_only: bool = False) -> dict[str, SyncRun]:
    """The newest run (or successful run) of each shard."""
    found: dict[str, SyncRun] = {}
    for run in sorted(runs, key=lambda r: r.finished):
        if run.ok or not ok_only:
            found[run.shard] = run
    return found


def heartbeat_due(runs: Iterable[SyncRun], shard: str, ok: bool, now: dt.datetime) -> bool:
    """Whether a run that wrote nothing should still be recorded: it failed where the last
    run did not, or the shard's last recorded run is older than ``HEARTBEAT``.

    >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    >>> ran = [SyncRun("1/1", now - dt.timedelta(minutes=5), ok=True)]
    >>> heartbeat_due(ran, "1/1", True, now), heartbeat_due(ran, "1/1", False, now)
    (False, True)
    """
    last = latest(runs).get(shard)
    return last is None or last.ok != ok or now - last.finished >= HEARTBEAT
