"""An in-memory cache of the pre-rendered pages, revalidated against the blob's ETag.

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
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["CachedPage", "PageCache"]


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

    async def get(self, path: str, derive: Callable[[bytes], bytes] | None = None) -> CachedPage:
        """The page at ``path``, or ``derive`` of it (made once per version of the blob);
        raises ``BlobNotFound`` when there is none."""
        page = await self._get(path)
        if derive is None:
            return page
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
