"""Pruning: a project the allow-list no longer names leaves the pages at once; the blobs of
pruned files are deleted only after a grace period, so a client that just read a page (or a
lock that still pins a file) keeps working for a while, and a mistaken removal is cheap to
undo. Pending deletions (blob path -> when pruned) live in the shard's state.
"""

from __future__ import annotations

import datetime as dt

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.store.pages import read_project, update_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.plan import due_deletes
from blobpi.sync.io.report import Report

__all__ = ["delete_due", "remember", "remove_project"]


def remember(pending: dict[str, str], files: tuple[File, ...], report: Report, now: str) -> None:
    """Record files taken off a page: reported now, deleted after the grace period."""
    for file in files:
        report.pruned.append(file.filename)
        if file.blob_path:
            pending.setdefault(file.blob_path, now)


def _unless_private(page: ProjectPage | None) -> ProjectPage | None:
    return None if page is not None and page.origin == "mirror" else page  # may have changed


async def remove_project(
    store: BlobStore, name: NormalizedName, pending: dict[str, str], report: Report, now: str
) -> None:
    """Delete a mirrored project's pages (never a private project's)."""
    current = await read_project(store, name)
    if current is None or current.origin != "mirror":
        return
    await update_project(store, name, _unless_private)
    report.removed_projects.append(name)
    remember(pending, current.files, report, now)


async def delete_due(
    store: BlobStore, pending: dict[str, str], now: dt.datetime, grace: dt.timedelta, report: Report
) -> dict[str, str]:
    """Delete the blobs (and their .metadata/.provenance) whose grace period is over;
    returns the deletions still pending."""
    due, remaining = due_deletes(pending, now, grace)
    for path in due:
        for blob in (path, path + ".metadata", path + ".provenance"):
            try:
                await store.delete(blob)
            except BlobNotFound:
                continue
        report.deleted.append(path)
    return remaining
