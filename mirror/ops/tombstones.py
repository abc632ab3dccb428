"""Tombstones: the filenames of deleted private files, which may never be used again.

As on the public index, a filename names one file forever: a hashed lock that pinned the
deleted file must fail, not install different bytes under the same name. ``blobpi delete``
records ``state/deleted/<project>.json`` (filename -> sha256) before the page changes, and
``publish`` refuses those filenames.
"""

from __future__ import annotations

from packaging.utils import NormalizedName

from blobpi.mirror.core.layout import tombstones_path
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.records import read_record

__all__ = ["read_tombstones"]


async def read_tombstones(store: BlobStore, project: NormalizedName) -> dict[str, str]:
    """Deleted filenames of the project and the sha256 each had."""
    record, _ = await read_record(store, tombstones_path(project))
    return record
