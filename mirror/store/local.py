"""``LocalStore``: the blob store as a directory, blobpi's embedded default.

Blob ``a/b/c`` is the file ``ROOT/a/b/c``, so the directory can be browsed and backed up as it
is. Blob metadata lives beside it in ``ROOT/.meta/a/b/c.json``. Writes go to ``ROOT/.tmp``
first and are fsynced, then ``os.link`` (write-once: fails if the target exists) or
``os.replace`` (atomic replace) puts them in place, so a reader or a crash never sees half a
file. Conditional replaces take an ``flock`` on ``ROOT/.lock`` so that processes sharing the
directory serialize their compare-and-swap.

Only ``ensure`` creates the directory (the commands meant to make an index: upload, sync);
every other operation on a missing directory is a ``ConfigError`` naming it, so a mistyped
``--storage`` is reported, not silently created. Partial writes of a killed process stay in
``.tmp``, invisible; a writer removes those older than ``STALE_TMP_SECONDS`` once per store.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import stat as stat_mode
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread

from blobpi.mirror.core.errors import (
    BlobExists,
    BlobNotFound,
    ConfigError,
    HashMismatch,
    InvalidName,
    MirrorError,
    PreconditionFailed,
    StorageUnavailable,
)
from blobpi.mirror.store.lease import POLL, held
from blobpi.mirror.store.protocol import CHUNK_SIZE, Blob, BlobInfo, Data

__all__ = ["LocalStore"]

_INTERNAL = (".tmp", ".meta", ".lock")
# A write in progress touches its file at least once per chunk, and every upstream read
# times out far sooner; an hour untouched is a write whose process is gone.
STALE_TMP_SECONDS = 3600.0


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def _translate_os_error(e: OSError, where: str) -> Exception:
    if e.errno == errno.ENOSPC:
        return StorageUnavailable(f"no space left on the disk of {where}: free space, then rerun")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageUnavailable(
            f"cannot write to {where} ({e.strerror}): check the directory's permissions"
        )
    return StorageUnavailable(f"storage error in {where}: {e.strerror}")


class LocalStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self._swept = False

    @property
    def description(self) -> str:
        return str(self.root)

    def _path(self, path: str) -> Path:
        parts = path.split("/")
        if not path or any(p in ("", ".", "..") or "\0" in p or "\\" in p for p in parts):
            raise InvalidName(f"{path[:120]!r} is not a valid blob path")
        if parts[0] in _INTERNAL:
            raise InvalidName(f"{path[:120]!r} names an internal file of the store")
        return self.root.joinpath(*parts)

    def _meta_path(self, path: str) -> Path:
        return self.root / ".meta" / (path + ".json")

    async def ensure(self, *, create: bool = True) -> None:
        def _mkdirs() -> None:
            if not create:
                return self._require_root()
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise _translate_os_error(e, str(self.root)) from None
            self._prepare()

        await anyio.to_thread.run_sync(_mkdirs)

    def _require_root(self) -> None:
        if not self.root.is_dir():
            raise ConfigError(
                f"the storage directory {str(self.root)!r} does not exist: check --storage, "
                "or create the index with 'blobpi upload' or 'blobpi sync' (or mkdir it, for "
                "an index of private packages only)"
            )

    def _prepare(self) -> None:
        """Before a write: the store exists, has ``.tmp`` and ``.meta``, and no stale
        partial files of killed writers (swept once per store object)."""
        self._require_root()
        try:
            for sub in (".tmp", ".meta"):
                (self.root / sub).mkdir(exist_ok=True)
        except OSError as e:
            raise _translate_os_error(e, str(self.root)) from None
        if not self._swept:
            self._swept = True
            self._sweep_tmp(time.time() - STALE_TMP_SECONDS)

    def _sweep_tmp(self, before: float) -> None:
        with os.scandir(self.root / ".tmp") as entries:
            for entry in entries:
                with contextlib.suppress(OSError):  # another sweeper, or a read-only disk
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < before:
                        os.unlink(entry.path)

    def _info(self, path: str, stat: os.stat_result) -> BlobInfo:
        metadata: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError):
            metadata = json.loads(self._meta_path(path).read_text())
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
        return BlobInfo(path, stat.st_size, _etag(stat), metadata, modified)

    def _head(self, path: str) -> BlobInfo:
        try:
            stat = self._path(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            stat = None
        if stat is None or not stat_mode.S_ISREG(stat.st_mode):
            raise BlobNotFound(f"no blob {path!r} in {self.description}")
        return self._info(path, stat)

    async def head(self, path: str) -> BlobInfo:
        return await anyio.to_thread.run_sync(self._head, path)

    async def get(self, path: str, *, if_none_match: str | None = None) -> Blob | None:
        def _read() -> Blob | None:
            try:
                with self._path(path).open("rb") as f:
                    stat = os.fstat(f.fileno())
                    if if_none_match is not None and _etag(stat) == if_none_match:
                        return None
                    return Blob(self._info(path, stat), f.read())
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise BlobNotFound(f"no blob {path!r} in {self.description}") from None

        return await anyio.to_thread.run_sync(_read)

    async def open(
        self, path: str, *, start: int = 0, length: int | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        def _open() -> tuple[BlobInfo, int]:
            try:
                fd = os.open(self._path(path), os.O_RDONLY)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise BlobNotFound(f"no blob {path!r} in {self.description}") from None
            return self._info(path, os.fstat(fd)), fd

        info, fd = await anyio.to_thread.run_sync(_open)
        end = info.size if length is None else min(info.size, start + length)

        async def _chunks() -> AsyncIterator[bytes]:
            position = start
            try:
                while position < end:
                    size = min(CHUNK_SIZE, end - position)
                    chunk = await anyio.to_thread.run_sync(os.pread, fd, size, position)
                    if not chunk:
                        break
                    position += len(chunk)
                    yield chunk
            finally:
                os.close(fd)

        return info, _chunks()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.root / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def put(
        self,
        path: str,
        data: Data,
        *,
        create_only: bool = False,
        if_match: str | None = None,
        sha256: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> BlobInfo:
        target = self._path(path)
        tmp = self.root / ".tmp" / uuid.uuid4().hex
        digest = hashlib.sha256()
        opened: list[BinaryIO] = []  # the temporary file, opened by the first write

        def _write(block: bytes) -> None:  # in a worker thread: hashing frees the GIL
            if not opened:
                self._prepare()
                opened.append(tmp.open("wb"))
            digest.update(block)
            opened[0].write(block)

        def _finish() -> BlobInfo:
            # Whole on disk before the link or rename that publishes it: no crash shows half.
            # The close and the clean-up run here too, in the worker thread: each was a
            # blocking call on the event loop per file (profiled: 445 unlinks on a first sync).
            if not opened:
                _write(b"")  # an empty body
            f = opened[0]
            try:
                f.flush()
                os.fsync(f.fileno())
                if sha256 is not None and digest.hexdigest() != sha256:
                    raise HashMismatch(
                        f"{path!r}: sha256 {digest.hexdigest()} does not match the expected "
                        f"{sha256}"
                    )
                return self._commit(path, target, tmp, create_only, if_match, metadata)
            finally:
                f.close()
                tmp.unlink(missing_ok=True)

        def _whole(block: bytes) -> BlobInfo:
            # One worker-thread hop for a body in memory (pages, records, .metadata): a hop
            # per step cost more than the write itself on a busy machine.
            _write(block)
            return _finish()

        try:
            if isinstance(data, bytes):
                return await anyio.to_thread.run_sync(_whole, data)
            # A stream of one chunk (a file under CHUNK_SIZE: most of a sync) is written like
            # bytes, in one hop: the writer task, its queue and a second hop cost a third of
            # the event loop's work per small file (profiled). So the second chunk is asked
            # for before anything is written; a longer stream holds one chunk more meanwhile.
            chunks = aiter(data)
            first = await anext(chunks, b"")
            second = await anext(chunks, None)
            if second is None:
                return await anyio.to_thread.run_sync(_whole, first)
            # A writer task hashes and writes while the next chunks arrive; the one-chunk
            # queue bounds memory and keeps the order. The first write opens the file.
            # Errors are collected, not left to the task group, so callers see the original
            # exception (a network error to retry, a full disk), not a group.
            send, receive = anyio.create_memory_object_stream[bytes](1)
            errors: list[Exception] = []

            async def _writer() -> None:
                async with receive:
                    try:
                        async for block in receive:
                            await anyio.to_thread.run_sync(_write, block)
                    except Exception as e:
                        errors.append(e)

            async with anyio.create_task_group() as group:
                group.start_soon(_writer)
                async with send:
                    try:
                        await send.send(first)
                        await send.send(second)
                        async for chunk in chunks:
                            await send.send(chunk)
                    except anyio.BrokenResourceError:
                        pass  # the writer failed: its error is raised below
                    except Exception as e:
                        errors.append(e)
            if errors:
                raise errors[0]
            return await anyio.to_thread.run_sync(_finish)
        except MirrorError:
            raise  # BlobExists is an OSError too, and already says what happened
        except OSError as e:
            raise _translate_os_error(e, self.description) from None
        finally:
            if opened and not opened[0].closed:  # a failed or cancelled stream
                with contextlib.suppress(OSError):
                    opened[0].close()
                with contextlib.suppress(OSError):  # a read-only disk: the real error is above
                    tmp.unlink(missing_ok=True)

    def _commit(
        self,
        path: str,
        target: Path,
        tmp: Path,
        create_only: bool,
        if_match: str | None,
        metadata: Mapping[str, str] | None,
    ) -> BlobInfo:
        target.parent.mkdir(parents=True, exist_ok=True)
        meta_path = self._meta_path(path)
        with self._locked():
            if create_only:
                if target.exists():  # before touching the metadata of the existing blob
                    raise BlobExists(f"blob {path!r} already exists in {self.description}")
                # The metadata before the blob: a visible write-once file has its sha256.
                self._write_meta(meta_path, tmp, metadata)
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    raise BlobExists(
                        f"blob {path!r} already exists in {self.description}"
                    ) from None
            else:
                if if_match is not None:
                    try:
                        current = _etag(target.stat())
                    except FileNotFoundError:
                        current = None
                    if current != if_match:
                        raise PreconditionFailed(f"blob {path!r} changed while it was updated")
                # Only the winner of the check writes metadata, and after the blob: a crash in
                # between leaves metadata that names an older source, which is rewritten, never
                # metadata that claims a content the blob does not have.
                os.replace(tmp, target)
                self._write_meta(meta_path, tmp, metadata)
        return self._info(path, target.stat())

    @staticmethod
    def _write_meta(meta_path: Path, tmp: Path, metadata: Mapping[str, str] | None) -> None:
        if metadata:
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            meta_tmp = tmp.with_suffix(".meta")
            meta_tmp.write_text(json.dumps(dict(metadata)))
            os.replace(meta_tmp, meta_path)
        else:
            meta_path.unlink(missing_ok=True)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        # Walk only the directory the prefix names, not the whole tree.
        start_dir = prefix.rpartition("/")[0]
        start = self._path(start_dir) if start_dir else self.root

        def _walk() -> list[BlobInfo]:
            found = []
            for directory, dirs, files in os.walk(start):
                rel_dir = os.path.relpath(directory, self.root)
                if rel_dir == ".":
                    dirs[:] = [d for d in dirs if d not in _INTERNAL]
                    rel_dir = ""
                for name in files:
                    path = f"{rel_dir}/{name}" if rel_dir else name
                    if path.startswith(prefix) and path not in _INTERNAL:
                        found.append(self._info(path, os.stat(os.path.join(directory, name))))
            return sorted(found, key=lambda i: i.path)

        for info in await anyio.to_thread.run_sync(_walk):
            yield info

    async def leftovers(self, older_than: float) -> AsyncIterator[str]:
        """Files in ``.tmp`` that no write has touched for ``older_than`` seconds: a write
        killed before its rename. Younger ones may be writes in flight."""
        cutoff = time.time() - older_than

        def _old() -> list[str]:
            try:
                entries = list(os.scandir(self.root / ".tmp"))
            except FileNotFoundError:
                return []
            return sorted(
                str(self.root / ".tmp" / e.name) for e in entries if e.stat().st_mtime < cutoff
            )

        for name in await anyio.to_thread.run_sync(_old):
            yield name

    async def delete(self, path: str, *, if_match: str | None = None) -> None:
        def _delete() -> None:
            try:
                _unlink()
            except MirrorError:
                raise
            except OSError as e:  # a read-only disk, say
                raise _translate_os_error(e, self.description) from None

        def _unlink() -> None:
            target = self._path(path)
            self._require_root()
            with self._locked():
                try:
                    if if_match is not None and _etag(target.stat()) != if_match:
                        raise PreconditionFailed(f"blob {path!r} changed before it was deleted")
                    target.unlink()
                except FileNotFoundError:
                    raise BlobNotFound(f"no blob {path!r} in {self.description}") from None
                self._meta_path(path).unlink(missing_ok=True)

        await anyio.to_thread.run_sync(_delete)

    @contextlib.asynccontextmanager
    async def lease(self, path: str, *, wait: float) -> AsyncIterator[None]:
        """An ``flock`` on the lease file: the kernel releases it when the process dies."""
        target = self._path(path)
        self._require_root()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise _translate_os_error(e, self.description) from None
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise held(path, str(self.root), wait) from None
                    await anyio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def signing(self) -> None:
        return None  # files in a directory have no URL to sign

    def local_file(self, path: str) -> str:
        return str(self._path(path))

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> LocalStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
