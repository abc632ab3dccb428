"""Publish private distributions: verify them, store them write-once, re-render their pages.

The one path for ``blobpi upload``, the upload API and ``azureml add-private-wheel``.
Write order (crash-safe, DESIGN.md): the file blob, then its PEP 658 ``.metadata``, then the
project's pages, then the root. A crash in between leaves an unreferenced blob, never a page
that links to a missing file; publishing again converges. Uniqueness and tombstones
compare distribution identities (``core.identity``), never filename strings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from typing import IO

import anyio.to_thread
from packaging.utils import NormalizedName

from blobpi.mirror.core.distribution import inspect_distribution
from blobpi.mirror.core.errors import (
    BlobExists,
    UploadConflict,
    UploadForbidden,
    UploadRejected,
    UploadTooLarge,
)
from blobpi.mirror.core.identity import Identities, clashing
from blobpi.mirror.core.layout import content_path, metadata_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.ops.tombstones import read_tombstones
from blobpi.mirror.store.pages import read_project, update_project, update_root
from blobpi.mirror.store.protocol import CHUNK_SIZE, BlobStore

__all__ = ["Batch", "Published", "publish"]


@dataclasses.dataclass(frozen=True, slots=True)
class Published:
    file: File
    created: bool  # False when the identical file was already there (idempotent re-upload)


def _digests(fileobj: IO[bytes]) -> tuple[str, str, int]:
    sha256, blake2 = hashlib.sha256(), hashlib.blake2b(digest_size=32)
    size = 0
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK_SIZE):
        sha256.update(chunk)
        blake2.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return sha256.hexdigest(), blake2.hexdigest(), size


async def _chunks(fileobj: IO[bytes]) -> AsyncIterator[bytes]:
    fileobj.seek(0)
    while chunk := await anyio.to_thread.run_sync(fileobj.read, CHUNK_SIZE):
        yield chunk


def _refuse_mirrored(page: ProjectPage | None, filename: str, allow_mirrored: bool) -> None:
    if page is not None and page.status in ("archived", "quarantined"):
        # PEP 792: the index MUST NOT allow uploads to an archived or quarantined project
        raise UploadForbidden(
            f"{page.name!r} is {page.status}, so {filename!r} may not be uploaded (PEP 792): "
            f"'blobpi status {page.name} active' first if it should take releases again"
        )
    if page is not None and page.origin == "mirror" and not allow_mirrored:
        raise UploadForbidden(
            f"{page.name!r} is a mirrored project, so {filename!r} may not be uploaded "
            "under its name (dependency confusion): choose a name the mirror does not hold, "
            "or list it in BLOBPI_SHARED_NAMES to mix both deliberately"
        )


def _existing(
    by_name: Mapping[str, File],
    filename: str,
    sha256: str | None,
    *,
    racing: bool = False,
    identities: Identities | None = None,
) -> File | None:
    """The file already stored as this upload, or None if it is new; ``UploadConflict`` when
    the same distribution is there under this or another filename with other bytes.
    ``by_name``: the project's files by filename; ``identities``: their index, when the
    caller keeps one across many uploads."""
    index = identities if identities is not None else Identities(by_name)
    same = index.clashing(filename)
    if not same:
        return None
    found = by_name[same[0]]
    if len(same) == 1 and same[0] == filename and found.sha256 == sha256:
        return found  # the identical file: an idempotent re-upload
    what = "was just uploaded" if racing else "already exists"
    alias = "" if same[0] == filename else f" as {same[0]!r} (the same distribution)"
    raise UploadConflict(
        f"{filename!r} {what} with different content{alias}, and files are never "
        "replaced: bump the version and upload the new build"
    )


class Batch:
    """Publish many distributions, rendering each project's pages once: ``add`` verifies and
    stores each file (blob, then ``.metadata``), ``commit`` writes each project's pages with
    all of its new files, then the root. Linear in the files: a page is read once when its
    project is first seen, and rendered once per ``commit``, not once per file.

    ``shared_names`` (``BLOBPI_SHARED_NAMES``) is the deliberate override of the
    dependency-confusion guard: names that may be both mirrored and private."""

    def __init__(
        self,
        store: BlobStore,
        *,
        max_bytes: int,
        now: dt.datetime | None = None,
        shared_names: Collection[str] = (),
    ) -> None:
        self._store, self._max_bytes, self._now = store, max_bytes, now
        self._shared = shared_names
        self._pages: dict[NormalizedName, ProjectPage | None] = {}
        self._deleted: dict[NormalizedName, Collection[str]] = {}
        self._new: dict[NormalizedName, dict[str, File]] = {}
        # the page's files and this batch's new ones, by filename and by identity
        self._known: dict[NormalizedName, tuple[dict[str, File], Identities]] = {}

    async def _seen(self, name: NormalizedName) -> tuple[ProjectPage | None, Collection[str]]:
        if name not in self._pages:
            page = self._pages[name] = await read_project(self._store, name)
            self._deleted[name] = await read_tombstones(self._store, name)
            self._new[name] = {}
            by_name = {f.filename: f for f in (page.files if page else ())}
            self._known[name] = (by_name, Identities(by_name))
        return self._pages[name], self._deleted[name]

    async def add(
        self, filename: str, fileobj: IO[bytes], *, expected_sha256: str | None = None
    ) -> Published:
        """Verify and store one distribution from a seekable binary file; its pages change
        at ``commit``."""
        dist = parse_distribution_filename(filename)
        allow_mirrored = dist.name in self._shared
        sha256, blake2, size = await anyio.to_thread.run_sync(_digests, fileobj)
        if size > self._max_bytes:
            raise UploadTooLarge(
                f"{filename!r} is {size} bytes, over the limit of {self._max_bytes}: raise "
                "BLOBPI_MAX_UPLOAD_BYTES if it must be stored"
            )
        if expected_sha256 is not None and expected_sha256.lower() != sha256:
            raise UploadRejected(
                f"{filename!r}: the sha256 the client sent does not match the bytes received: "
                "upload again"
            )
        page, deleted = await self._seen(dist.name)
        _refuse_mirrored(page, filename, allow_mirrored)
        known, taken = self._known[dist.name]
        existing = _existing(known, filename, sha256, identities=taken)
        if existing is not None:
            return Published(existing, created=False)
        gone = clashing(filename, deleted)
        if gone:
            what = (
                "was deleted"
                if gone[0] == filename
                else f"is the same distribution as the deleted {gone[0]!r}"
            )
            raise UploadConflict(
                f"{filename!r} {what}, and a deleted distribution is never used again (hashed "
                "locks name it): bump the version and upload the new build"
            )
        file = await self._store_file(dist.kind == "wheel", filename, fileobj, sha256, blake2, size)
        self._new[dist.name][filename] = known[filename] = file
        taken.add(filename)
        return Published(file, created=True)

    async def _store_file(
        self, wheel: bool, filename: str, fileobj: IO[bytes], sha256: str, blake2: str, size: int
    ) -> File:
        store = self._store
        inspected = await anyio.to_thread.run_sync(inspect_distribution, filename, fileobj)
        uploaded = (self._now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        path = content_path(blake2, filename)
        try:
            await store.put(
                path,
                _chunks(fileobj),
                create_only=True,
                sha256=sha256,
                metadata={
                    "sha256": sha256,
                    "upload_time": uploaded.isoformat(),
                    "origin": "private",
                },
                content_type="application/octet-stream",
            )
        except BlobExists:
            pass  # same content-addressed path: the same bytes, from an interrupted earlier run
        core_metadata: dict[str, str] | bool = False
        if wheel:
            try:
                await store.put(
                    metadata_path(path),
                    inspected.metadata,
                    create_only=True,
                    content_type="application/octet-stream",
                )
            except BlobExists:
                pass
            core_metadata = {"sha256": hashlib.sha256(inspected.metadata).hexdigest()}
        return File.stored(
            path,
            filename=filename,
            hashes={"sha256": sha256},
            requires_python=inspected.requires_python,
            size=size,
            upload_time=uploaded,
            core_metadata=core_metadata,
        )

    async def commit(self) -> None:
        """Write the pages of every project with new files (once each), then the root. Call
        it after a failed ``add`` too: the files stored before it are then published."""
        added = [name for name, files in self._new.items() if files]
        for name in added:
            new = list(self._new[name].values())
            await update_project(self._store, name, self._adder(name, new))
            self._pages.pop(name, None)  # changed: read again if the batch goes on
            self._known.pop(name, None)
            self._new[name] = {}
        if added:
            await update_root(
                self._store, lambda projects: ProjectList.of([*projects.projects, *added])
            )

    def _adder(
        self, name: NormalizedName, new: list[File]
    ) -> Callable[[ProjectPage | None], ProjectPage]:
        allow_mirrored = name in self._shared

        def _add(current: ProjectPage | None) -> ProjectPage:
            files = list(current.files) if current else []
            by_name = {f.filename: f for f in files}
            taken = Identities(by_name)  # once per page, not once per new file
            for file in new:
                _refuse_mirrored(current, file.filename, allow_mirrored)
                if (
                    _existing(by_name, file.filename, file.sha256, racing=True, identities=taken)
                    is None
                ):
                    files.append(file)
                    by_name[file.filename] = file
                    taken.add(file.filename)
            versions = [
                *(current.versions if current else ()),
                *(str(parse_distribution_filename(f.filename).version) for f in new),
            ]
            # a deprecated project keeps its PEP 792 status across uploads
            status = (
                {"status": current.status, "status_reason": current.status_reason}
                if current
                else {}
            )
            return ProjectPage.build(name, files, versions, origin="private", **status)

        return _add


async def publish(
    store: BlobStore,
    filename: str,
    fileobj: IO[bytes],
    *,
    max_bytes: int,
    now: dt.datetime | None = None,
    expected_sha256: str | None = None,
    shared_names: Collection[str] = (),
) -> Published:
    """Store one private distribution from a seekable binary file (a ``Batch`` of one)."""
    batch = Batch(store, max_bytes=max_bytes, now=now, shared_names=shared_names)
    published = await batch.add(filename, fileobj, expected_sha256=expected_sha256)
    await batch.commit()
    return published
