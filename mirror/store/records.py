"""The index's own small records under ``state/`` (a project's local yanks, its deleted
filenames): JSON objects read with their ETag and changed by compare-and-swap, so two
writers never lose each other's entries. An empty record is deleted, not stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from blobpi.mirror.core.errors import (
    BlobExists,
    BlobNotFound,
    PreconditionFailed,
    StorageUnavailable,
)
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["change_record", "read_record"]

_ATTEMPTS = 20
Record = dict[str, Any]


async def read_record(store: BlobStore, path: str) -> tuple[Record, str | None]:
    """The record at ``path`` and its ETag; ``({}, None)`` when there is none."""
    try:
        blob = await store.get(path)
    except BlobNotFound:
        return {}, None
    assert blob is not None
    return dict(json.loads(blob.data)), blob.info.etag


async def change_record(
    store: BlobStore, path: str, change: Callable[[Record], Record]
) -> tuple[Record, Record]:
    """Apply ``change`` (pure: it may run more than once) and return (before, after)."""
    for _ in range(_ATTEMPTS):
        before, etag = await read_record(store, path)
        after = change(dict(before))
        if after == before:
            return before, after
        try:
            if after or etag is None:
                await store.put(
                    path,
                    json.dumps(after, indent=1, sort_keys=True).encode(),
                    create_only=etag is None,
                    if_match=etag,
                    content_type="application/json",
                )
            else:
                await store.delete(path, if_match=etag)
        except (PreconditionFailed, BlobExists, BlobNotFound):
            continue
        return before, after
    raise StorageUnavailable(
        f"gave up changing {path!r} after {_ATTEMPTS} conflicting writes: rerun"
    )
