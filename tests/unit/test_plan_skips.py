"""Why the sync skipped files: each filter is named (its ``[sync]`` key), counted in the plan,
and shown in the summary, which also names the upstream and counts removed projects."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from blobpi.mirror.core.settings import Filters
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.core.plan import filtered_by, plan_project
from blobpi.sync.io.report import Report
from tests.unit.test_plan import DEMO, FILTERS, NOW, UPSTREAM, _file


@pytest.mark.parametrize(
    ("filename", "changes", "filters", "why"),
    [
        ("demo-1.0-py3-none-any.whl", {}, FILTERS, None),
        ("demo-1.0.tar.gz", {}, dataclasses.replace(FILTERS, sdists=False), "sdists"),
        ("demo-2.0-cp310-cp310-win_amd64.whl", {}, FILTERS, "platform-tags"),
        ("demo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", {}, FILTERS, "python-versions"),
        ("demo-0.8-py3-none-any.whl", {"requires_python": ">=3.13"}, FILTERS, "python-versions"),
        (
            "demo-1.0-py3-none-any.whl",
            {"size": 10**9},
            Filters(max_file_size=10**6),
            "max-file-size",
        ),
        (
            "demo-1.0-py3-none-any.whl",
            {"upload_time": NOW - dt.timedelta(hours=1)},
            Filters(min_age_hours=24),
            "min-age-hours",
        ),
    ],
)
def test_filtered_by__names_the_filter(
    filename: str, changes: dict[str, object], filters: Filters, why: str | None
) -> None:
    file = dataclasses.replace(_file(filename), **changes)  # type: ignore[arg-type]
    assert filtered_by(file, filters, NOW) == why


def test_plan__counts_skips_by_filter() -> None:
    filters = dataclasses.replace(FILTERS, sdists=False, latest=1)
    plan = plan_project(DEMO, parse_allowlist("demo"), UPSTREAM, [], filters, NOW)
    assert plan.skipped == sum(plan.skipped_by.values()) > 0
    assert plan.skipped_by == {
        "sdists": 2,  # demo-1.0.tar.gz, demo-2.0.tar.gz
        "platform-tags": 2,  # win_amd64, macosx arm64
        "python-versions": 3,  # cp311, py2, requires-python >=3.13
        "latest": 1,  # demo-1.0 wheel: only the newest version is kept
    }


def test_report__summary_names_upstream_skips_and_removed_projects() -> None:
    report = Report(
        upstream="https://up.test/simple/",
        projects=3,
        skipped=3,
        skipped_by={"sdists": 1, "platform-tags": 2},
        removed_projects=["old"],
    )
    summary = report.summary()
    assert summary.startswith("3 projects from https://up.test/simple/ (0 unchanged), ")
    assert "3 skipped (2 platform-tags, 1 sdists)" in summary
    assert "1 projects removed" in summary
    dry = dataclasses.replace(report, dry_run=True)
    assert "1 projects to remove" in dry.summary()
