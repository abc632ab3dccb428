"""The index's own small records under ``state/`` (a project's local yanks, its deleted
filenames): JSON objects read with their ETag and changed by compare-and-swap
(``store.cas``), so two writers never lose each other's entries. An empty record is
deleted, not stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from blobpi.mirror.store.cas import Codec, compare_and_swap, read_with_etag
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["change_record", "read_record"]

Record = dict[str, Any]


def _load(data: bytes | None) -> Record:
    return dict(json.loads(data)) if data is not None else {}


def _dump(record: Record) -> bytes | None:
    return json.dumps(record, indent=1, sort_keys=True).encode() if record else None


_CODEC: Codec[Record] = Codec(_load, _dump)


async def read_record(store: BlobStore, path: str) -> tuple[Record, str | None]:
    """The record at ``path`` and its ETag; ``({}, None)`` when there is none."""
    return await read_with_etag(store, path, _CODEC)


async def change_record(
    store: BlobStore, path: str, change: Callable[[Record], Record]
) -> tuple[Record, Record]:
    """Apply ``change`` (pure: it may run more than once) and return (before, after)."""
    return await compare_and_swap(store, path, _CODEC, lambda before: change(dict(before)))
