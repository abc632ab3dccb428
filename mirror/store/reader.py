"""``BlobReader``: a stored blob as a read-only, seekable file that fetches only what is read.

A wheel's METADATA is found from the zip's end record and central directory and read at its
member's offset, so ``zipfile`` over this reader costs a few ranged reads of a 1 GiB wheel,
not a second pass over all of it (profiled: the copy took a sixth of mirroring one). The
reader is synchronous, for a parser running in an anyio worker thread: each read that misses
its window hops to the event loop (``anyio.from_thread``) for one ranged ``store.open``.

A stopped command (``cli/interrupt.py`` cancels its scope) must not hang in that hop. anyio
runs the hop's task in the caller's cancel scope, and a task that joins a scope after its
cancellation was delivered is never cancelled: anyio's ``checkpoint_if_cancelled`` then spins
on ``sleep(0)`` forever while the thread waits for it and the caller (shielded: a worker thread
cannot be abandoned) waits for the thread. So the reader stops at its next read once the
scope is cancelled, and the hop itself is shielded: it is one bounded ranged read.
"""

from __future__ import annotations

import io
from typing import Any

import anyio
import anyio.from_thread

from blobpi.mirror.store.protocol import CHUNK_SIZE, BlobStore

__all__ = ["BlobReader"]

WINDOW = 256 * 1024  # bytes fetched at least per miss: zipfile's small header reads share one


class BlobReader(io.RawIOBase):
    """``store``'s blob ``path`` of ``size`` bytes; use from a worker thread only."""

    def __init__(self, store: BlobStore, path: str, size: int) -> None:
        super().__init__()
        self._store, self._path, self._size = store, path, size
        self._position = 0
        self._window_start, self._window = 0, b""
        self.fetches = 0  # ranged reads made, for tests

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        # At most one chunk per call (a short read, as RawIOBase allows): memory stays bounded.
        want = min(len(view), self._size - self._position, CHUNK_SIZE)
        if want <= 0:
            return 0
        offset = self._position - self._window_start
        if offset < 0 or offset + want > len(self._window):
            length = min(max(want, WINDOW), self._size - self._position)
            anyio.from_thread.check_cancelled()  # raises the cancellation of a stopped command
            self._window = anyio.from_thread.run(self._fetch, self._position, length)
            self._window_start, offset = self._position, 0
            want = min(want, len(self._window))  # a blob cut since its size was read
        view[:want] = self._window[offset : offset + want]
        self._position += want
        return want

    async def _fetch(self, start: int, length: int) -> bytes:
        with anyio.CancelScope(shield=True):  # a cancel that lands after the check: see above
            self.fetches += 1
            _, chunks = await self._store.open(self._path, start=start, length=length)
            data = b"".join([chunk async for chunk in chunks])
        return data
