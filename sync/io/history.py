"""Append a sync run to the history record (``mirror/core/history.py``) by compare-and-swap,
so shards finishing together keep each other's runs. Called by ``run_sync`` under the lease."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from packaging.utils import NormalizedName

from blobpi.mirror.core.history import SyncRun, add_run, heartbeat_due, parse_runs
from blobpi.mirror.core.layout import history_path
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore, redact_url
from blobpi.mirror.store.records import change_record, read_record
from blobpi.sync.io.report import Report

__all__ = ["record_run"]


async def _totals(store: BlobStore, names: Iterable[NormalizedName]) -> tuple[int, int]:
    files = size = 0
    for name in names:
        page = await read_project(store, name)
        if page is not None:
            files += len(page.files)
            size += sum(f.size or 0 for f in page.files)
    return files, size


async def record_run(
    store: BlobStore,
    report: Report,
    upstream: str,
    projects: Iterable[NormalizedName],
    now: dt.datetime,
    *,
    wrote: bool,
) -> bool:
    """Record this run if it wrote anything (``wrote``) or a heartbeat is due; True if it did.
    ``projects``: the shard's mirrored projects, whose pages give the totals."""
    record, _ = await read_record(store, history_path())
    if not wrote and not heartbeat_due(parse_runs(record), report.shard, report.ok, now):
        return False
    files, size = await _totals(store, projects)
    run = SyncRun(
        shard=report.shard,
        finished=now,
        ok=report.ok,
        upstream=redact_url(upstream),
        projects=report.projects,
        added=len(report.added),
        added_bytes=report.bytes,
        pruned=len(report.pruned),
        deleted=len(report.deleted),
        removed_projects=len(report.removed_projects),
        failures=tuple([*report.private, *report.failed]),
        failed=len(report.private) + len(report.failed),
        seconds=report.seconds,
        files_total=files,
        bytes_total=size,
    )
    await change_record(store, history_path(), lambda before: add_run(before, run))
    return True
