"""Compare-and-swap on one blob: the single read-change-write loop every small record and page uses.

Read the blob and its ETag, apply a pure change, write back with ``If-Match: <etag>`` (or
``If-None-Match: *`` when there was no blob, or a conditional delete when the new value has no
bytes). A writer that loses the race waits a jittered, growing backoff, re-reads and re-applies
its change, so concurrent writers never lose each other's changes. After ``ATTEMPTS`` lost
races it gives up with ``WriteConflict``, which names the blob and the fix.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from blobpi.mirror.core.errors import BlobExists, BlobNotFound, PreconditionFailed, WriteConflict
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["ATTEMPTS", "Codec", "compare_and_swap", "read_with_etag"]

T = TypeVar("T")
ATTEMPTS = 10
_FIRST_DELAY = 0.005  # seconds; doubles per lost race, up to _MAX_DELAY, with full jitter
_MAX_DELAY = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class Codec(Generic[T]):
    """How a blob's bytes become a value and back; ``dump`` returning None deletes the blob."""

    load: Callable[[bytes | None], T]  # None: there is no blob
    dump: Callable[[T], bytes | None]
    content_type: str = "application/json"


async def read_with_etag(store: BlobStore, path: str, codec: Codec[T]) -> tuple[T, str | None]:
    """The value at ``path`` and its ETag; ``(codec.load(None), None)`` when there is no blob."""
    try:
        blob = await store.get(path)
    except BlobNotFound:
        return codec.load(None), None
    assert blob is not None  # no if_none_match, so a blob or BlobNotFound
    return codec.load(blob.data), blob.info.etag


async def compare_and_swap(
    store: BlobStore,
    path: str,
    codec: Codec[T],
    change: Callable[[T], T],
    *,
    attempts: int = ATTEMPTS,
    before_write: Callable[[T], Awaitable[None]] | None = None,
) -> tuple[T, T]:
    """Apply ``change`` (pure: it may run more than once) to the value at ``path``; return
    (before, after). Nothing is written when the value is unchanged and already stored as
    such. ``before_write`` runs just before each conditional write (pages: the HTML twin)."""
    for attempt in range(attempts):
        if attempt:
            await anyio.sleep(random.uniform(0, min(_MAX_DELAY, _FIRST_DELAY * 2**attempt)))
        before, etag = await read_with_etag(store, path, codec)
        after = change(before)
        body = codec.dump(after)
        if after == before and (etag is not None) == (body is not None):
            return before, after
        if before_write is not None:
            await before_write(after)
        try:
            if body is None:
                if etag is not None:
                    await store.delete(path, if_match=etag)
            else:
                await store.put(
                    path,
                    body,
                    create_only=etag is None,
                    if_match=etag,
                    content_type=codec.content_type,
                )
        except (PreconditionFailed, BlobExists, BlobNotFound):
            continue
        return before, after
    raise WriteConflict(
        f"gave up changing {path!r} in {store.description} after {attempts} conflicting "
        "writes by other writers: rerun when they are done"
    )
