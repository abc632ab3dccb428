"""Pruning, carried out: ``sync.core.plan`` decides what goes (``removed_projects``,
``page_without_files``, ``plan_deletes``); this removes the pages and deletes the blobs.

A project the allow-list no longer names leaves the pages at once; the blobs of pruned files
are deleted only after a grace period, so a client that just read a page (or a lock that still
pins a file) keeps working for a while, and a mistaken removal is cheap to undo. Pending
deletions (blob path -> when pruned) live in the shard's state.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.layout import file_blobs
from blobpi.mirror.core.model import File
from blobpi.mirror.store.pages import read_project, update_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.plan import page_without_files

__all__ = ["delete_blobs", "mirrored_pages", "remove_project"]


async def mirrored_pages(store: BlobStore, name: NormalizedName) -> bool:
    """Whether the project has mirrored pages (which a removal deletes; private ones stay)."""
    current = await read_project(store, name)
    return current is not None and current.origin == "mirror"


async def remove_project(store: BlobStore, name: NormalizedName) -> tuple[File, ...] | None:
    """Delete a mirrored project's pages (never a private project's); the files that left
    them, or None when the project had no mirrored pages to remove."""
    current = await read_project(store, name)
    if current is None or current.origin != "mirror":
        return None
    await update_project(store, name, page_without_files)
    return current.files


async def delete_blobs(store: BlobStore, due: Iterable[str]) -> None:
    """Delete the due file blobs and their .metadata/.provenance (absent ones are fine)."""
    for path in due:
        for blob in file_blobs(path):
            try:
                await store.delete(blob)
            except BlobNotFound:
                continue
