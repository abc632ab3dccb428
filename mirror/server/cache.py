"""In-memory caches of what the server reads: pre-rendered pages, revalidated against the
blob's ETag, and the heads of immutable files.

Pages are served from memory; once an entry is older than the TTL, the next request makes a
conditional read (``If-None-Match``) of the blob, which costs no body transfer when nothing
changed. So a page written by another process (the sync job, another replica's upload)
appears within ``ttl`` seconds, and the container is never listed per request.

A page's HTML is derived from its JSON record here (``get(path, derive=...)``), once per
record version, so the HTML a client gets always lists what the JSON of the same version
lists, even if a writer crashed before bringing the stored HTML twin in step.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import gzip
import hashlib
import time
from collections.abc import Callable

from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.store.protocol import BlobInfo, BlobStore

__all__ = ["CachedPage", "HeadCache", "PageCache", "SmallFiles"]


@dataclasses.dataclass(frozen=True, slots=True)
class CachedPage:
    body: bytes
    gzipped: bytes
    etag: str  # strong HTTP ETag of ``body``, from its sha256
    blob_etag: str

    @classmethod
    def of(cls, body: bytes, blob_etag: str = "") -> CachedPage:
        """Compress once, when the page enters the cache, not per request."""
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body, gzip.compress(body, compresslevel=6, mtime=0), f'"{digest}"', blob_etag)


class PageCache:
    def __init__(
        self,
        store: BlobStore,
        ttl: float,
        max_entries: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
        on_lookup: Callable[[str], None] = lambda result: None,
    ) -> None:
        self._store = store
        self._on_lookup = on_lookup  # "hit", "revalidated" or "miss", for /metrics
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: collections.OrderedDict[str, tuple[CachedPage, float]] = (
            collections.OrderedDict()
        )
        self._locks: dict[str, asyncio.Lock] = {}
        # (path, derivation) -> (the base page's ETag it was made from, the derived page)
        self._derived: collections.OrderedDict[tuple[str, str], tuple[str, CachedPage]] = (
            collections.OrderedDict()
        )

    def fresh(self, path: str, derive: Callable[[bytes], bytes] | None = None) -> CachedPage | None:
        """The page at ``path`` (or ``derive`` of it) if it is cached and younger than the TTL,
        else None: no I/O, for the fast path (``fastpath``), which leaves the rest to ``get``."""
        entry = self._entries.get(path)
        if entry is None or self._clock() - entry[1] >= self._ttl:
            return None  # not counted: ``get`` counts the lookup the routes then make
        self._entries.move_to_end(path)
        self._on_lookup("hit")
        return entry[0] if derive is None else self._derived_from(path, entry[0], derive)

    async def get(self, path: str, derive: Callable[[bytes], bytes] | None = None) -> CachedPage:
        """The page at ``path``, or ``derive`` of it (made once per version of the blob);
        raises ``BlobNotFound`` when there is none."""
        page = await self._get(path)
        return page if derive is None else self._derived_from(path, page, derive)

    def _derived_from(
        self, path: str, page: CachedPage, derive: Callable[[bytes], bytes]
    ) -> CachedPage:
        key = (path, derive.__qualname__)
        made = self._derived.get(key)
        if made is None or made[0] != page.etag:
            made = (page.etag, CachedPage.of(derive(page.body), page.blob_etag))
            self._derived[key] = made
            while len(self._derived) > self._max:
                self._derived.popitem(last=False)
        self._derived.move_to_end(key)
        return made[1]

    async def _get(self, path: str) -> CachedPage:
        entry = self._entries.get(path)
        if entry is not None and self._clock() - entry[1] < self._ttl:
            self._entries.move_to_end(path)
            self._on_lookup("hit")
            return entry[0]
        lock = self._locks.setdefault(path, asyncio.Lock())
        async with lock:  # one revalidation per page, however many requests wait
            entry = self._entries.get(path)
            if entry is not None and self._clock() - entry[1] < self._ttl:
                self._on_lookup("hit")  # another request revalidated it meanwhile
                return entry[0]
            try:
                blob = await self._store.get(
                    path, if_none_match=entry[0].blob_etag if entry else None
                )
            except BlobNotFound:
                self._on_lookup("miss")
                self._entries.pop(path, None)
                raise
            finally:
                self._locks.pop(path, None)
            page = entry[0] if blob is None and entry else None
            self._on_lookup("miss" if page is None else "revalidated")
            if page is None:
                assert blob is not None
                page = CachedPage.of(blob.data, blob.info.etag)
            self._entries[path] = (page, self._clock())
            self._entries.move_to_end(path)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return page


class HeadCache:
    """The heads (size, ETag, sha256) of immutable blobs, distribution files and their
    ``.metadata``, kept for ``ttl`` seconds, so a download needs no storage call before its
    body. A file is never changed, only deleted (pruned after the grace period, hours after
    its last page stopped linking it); a head is kept no longer than a page is."""

    def __init__(
        self,
        store: BlobStore,
        ttl: float,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._ttl, self._max, self._clock = store, ttl, max_entries, clock
        self._entries: dict[str, tuple[BlobInfo, float]] = {}

    async def head(self, path: str) -> BlobInfo:
        """The head of ``path``; raises ``BlobNotFound`` (never cached) when there is none."""
        entry = self._entries.get(path)
        if entry is not None and self._clock() - entry[1] < self._ttl:
            return entry[0]
        info = await self._store.head(path)
        self._entries.pop(path, None)
        self._entries[path] = (info, self._clock())
        if len(self._entries) > self._max:  # the oldest entry goes: dicts keep insertion order
            del self._entries[next(iter(self._entries))]
        return info


class SmallFiles:
    """The bodies of small immutable blobs (``.metadata`` files, small wheels), by path and
    ETag, at most ``max_bytes`` in all, least recently used out first.

    Answered from memory in one message instead of a file opened and streamed per request:
    a worker-thread hop per read and a task per streamed answer cost a 2 KB ``.metadata``
    about 0.6 ms of CPU, thirty times a cached page. The route consults the ``HeadCache``
    first, which says whether the file still exists (a deleted file is not answered from
    here for longer than its head is kept) and with which ETag (a body read for another
    ETag is read again).
    """

    LIMIT = 256 * 1024  # a body larger than this is streamed, never kept

    def __init__(self, store: BlobStore, max_bytes: int = 64 * 2**20) -> None:
        self._store, self._max = store, max_bytes
        self._entries: collections.OrderedDict[str, tuple[str, bytes]] = collections.OrderedDict()
        self._size = 0

    async def body(self, info: BlobInfo) -> bytes:
        """The body of the blob ``info`` describes (``info.size <= LIMIT``); raises
        ``BlobNotFound`` when it has gone since its head was read."""
        entry = self._entries.get(info.path)
        if entry is not None and entry[0] == info.etag:
            self._entries.move_to_end(info.path)
            return entry[1]
        blob = await self._store.get(info.path)
        assert blob is not None  # no If-None-Match was sent
        self._keep(info.path, blob.info.etag, blob.data)
        return blob.data

    def _keep(self, path: str, etag: str, data: bytes) -> None:
        if len(data) > self.LIMIT:
            return
        old = self._entries.pop(path, None)
        if old is not None:
            self._size -= len(old[1])
        self._entries[path] = (etag, data)
        self._size += len(data)
        while self._size > self._max:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._size -= len(dropped)
