"""Compare-and-swap on one blob: the single read-change-write loop every small record and page uses.

Read the blob and its ETag, apply a pure change, write back with ``If-Match: <etag>`` (or
``If-None-Match: *`` when there was no blob, or a conditional delete when the new value has no
bytes). A writer that loses the race waits a jittered, growing backoff, re-reads and re-applies
its change, so concurrent writers never lose each other's changes. After ``ATTEMPTS`` lost
races it gives up with ``WriteConflict``, which names the blob and the fix.

``keep_derived`` is the same loop for a blob derived from another (a page's HTML twin from
its JSON record): the derived blob names the digest and the ETag of the source it was made
from, and is replaced (``If-Match`` on the ETag read *before* the source was read) only when
they are not the current source's. So the last write always comes from a read of the newest
source, whichever writer finishes last, and a derived blob never goes back to an older source.
A writer killed between the two writes leaves a derived blob that names an older ETag:
``is_stale`` sees that from a listing alone, so a mending pass needs no reads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from blobpi.mirror.core.errors import BlobExists, BlobNotFound, PreconditionFailed, WriteConflict
from blobpi.mirror.store.protocol import BlobInfo, BlobStore

__all__ = [
    "ATTEMPTS",
    "SOURCE_DIGEST",
    "Codec",
    "compare_and_swap",
    "is_stale",
    "keep_derived",
    "read_with_etag",
]

T = TypeVar("T")
ATTEMPTS = 10
_FIRST_DELAY = 0.005  # seconds; doubles per lost race, up to _MAX_DELAY, with full jitter
_MAX_DELAY = 0.5
SOURCE_DIGEST = "source_sha256"  # blob metadata of a derived blob: sha256 of its source's bytes
SOURCE_ETAG = "source_etag"  # and the source's ETag when it was read (a listing shows both)


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
    such. ``before_write`` runs just before each conditional write (tests race it there)."""
    for attempt in range(attempts):
        if attempt:
            await _backoff(attempt)
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
    raise _gave_up(store, path, attempts)


async def keep_derived(
    store: BlobStore,
    source: str,
    derived: str,
    derive: Callable[[bytes], bytes],
    *,
    content_type: str,
    attempts: int = ATTEMPTS,
) -> None:
    """Make ``derived`` hold ``derive(bytes of source)``, or remove it when ``source`` is gone.

    Safe to run by any number of writers at once, and after a crash: each re-reads both."""
    for attempt in range(attempts):
        if attempt:
            await _backoff(attempt)
        try:  # the derived blob first: its ETag guards the write below
            current: BlobInfo | None = await store.head(derived)
        except BlobNotFound:
            current = None
        try:
            blob = await store.get(source)
        except BlobNotFound:
            blob = None
        try:
            if blob is None:
                if current is not None:
                    await store.delete(derived, if_match=current.etag)
                return
            made_from = {
                SOURCE_DIGEST: hashlib.sha256(blob.data).hexdigest(),
                SOURCE_ETAG: blob.info.etag,
            }
            if current is not None and all(
                current.metadata.get(k) == v for k, v in made_from.items()
            ):
                return
            await store.put(
                derived,
                derive(blob.data),
                create_only=current is None,
                if_match=current.etag if current is not None else None,
                metadata=made_from,
                content_type=content_type,
            )
            return
        except (PreconditionFailed, BlobExists, BlobNotFound):
            continue
    raise _gave_up(store, derived, attempts)


def is_stale(source: BlobInfo | None, derived: BlobInfo | None) -> bool:
    """Whether ``derived`` is not (or may not be) made from ``source`` as it is now: missing
    while the source exists, left behind by a removed source, or naming another source ETag
    (a writer killed between the two writes, or a blob written before ETags were recorded)."""
    if source is None or derived is None:
        return (source is None) != (derived is None)
    return derived.metadata.get(SOURCE_ETAG) != source.etag


async def _backoff(attempt: int) -> None:
    await anyio.sleep(random.uniform(0, min(_MAX_DELAY, _FIRST_DELAY * 2**attempt)))


def _gave_up(store: BlobStore, path: str, attempts: int) -> WriteConflict:
    return WriteConflict(
        f"gave up changing {path!r} in {store.description} after {attempts} conflicting "
        "writes by other writers: rerun when they are done"
    )
