"""Publish a private distribution: verify it, store it write-once, and re-render its pages.

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
from collections.abc import AsyncIterator, Collection
from typing import IO

import anyio.to_thread

from blobpi.mirror.core.distribution import inspect_distribution
from blobpi.mirror.core.errors import (
    BlobExists,
    UploadConflict,
    UploadForbidden,
    UploadRejected,
    UploadTooLarge,
)
from blobpi.mirror.core.identity import clashing
from blobpi.mirror.core.layout import content_path, metadata_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.ops.tombstones import read_tombstones
from blobpi.mirror.store.pages import read_project, update_project, update_root
from blobpi.mirror.store.protocol import CHUNK_SIZE, BlobStore

__all__ = ["Published", "publish"]


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
    page: ProjectPage | None, filename: str, sha256: str, racing: bool = False
) -> File | None:
    """The file already stored as this upload, or None if it is new; ``UploadConflict`` when
    the same distribution is there under this or another filename with other bytes."""
    same = clashing(filename, [f.filename for f in page.files]) if page else []
    if not same:
        return None
    assert page is not None
    found = page.file(same[0])
    assert found is not None
    if len(same) == 1 and same[0] == filename and found.sha256 == sha256:
        return found  # the identical file: an idempotent re-upload
    what = "was just uploaded" if racing else "already exists"
    alias = "" if same[0] == filename else f" as {same[0]!r} (the same distribution)"
    raise UploadConflict(
        f"{filename!r} {what} with different content{alias}, and files are never "
        "replaced: bump the version and upload the new build"
    )


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
    """Store one private distribution from a seekable binary file.

    ``shared_names`` (``BLOBPI_SHARED_NAMES``) is the deliberate override of the
    dependency-confusion guard: names that may be both mirrored and private."""
    dist = parse_distribution_filename(filename)
    allow_mirrored = dist.name in shared_names
    sha256, blake2, size = await anyio.to_thread.run_sync(_digests, fileobj)
    if size > max_bytes:
        raise UploadTooLarge(
            f"{filename!r} is {size} bytes, over the limit of {max_bytes}: raise "
            "BLOBPI_MAX_UPLOAD_BYTES if it must be stored"
        )
    if expected_sha256 is not None and expected_sha256.lower() != sha256:
        raise UploadRejected(
            f"{filename!r}: the sha256 the client sent does not match the bytes received: "
            "upload again"
        )
    page = await read_project(store, dist.name)
    _refuse_mirrored(page, filename, allow_mirrored)
    existing = _existing(page, filename, sha256)
    if existing is not None:
        return Published(existing, created=False)
    deleted = clashing(filename, await read_tombstones(store, dist.name))
    if deleted:
        what = (
            "was deleted"
            if deleted[0] == filename
            else f"is the same distribution as the deleted {deleted[0]!r}"
        )
        raise UploadConflict(
            f"{filename!r} {what}, and a deleted distribution is never used again (hashed "
            "locks name it): bump the version and upload the new build"
        )
    inspected = await anyio.to_thread.run_sync(inspect_distribution, filename, fileobj)
    uploaded = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    path = content_path(blake2, filename)
    try:
        await store.put(
            path,
            _chunks(fileobj),
            create_only=True,
            sha256=sha256,
            metadata={"sha256": sha256, "upload_time": uploaded.isoformat(), "origin": "private"},
            content_type="application/octet-stream",
        )
    except BlobExists:
        pass  # same content-addressed path: the same bytes, from an interrupted earlier run
    core_metadata: dict[str, str] | bool = False
    if dist.kind == "wheel":
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
    file = File.stored(
        path,
        filename=filename,
        hashes={"sha256": sha256},
        requires_python=inspected.requires_python,
        size=size,
        upload_time=uploaded,
        core_metadata=core_metadata,
    )

    def _add(current: ProjectPage | None) -> ProjectPage:
        _refuse_mirrored(current, filename, allow_mirrored)
        files = list(current.files) if current else []
        if _existing(current, filename, sha256, racing=True) is None:
            files.append(file)
        versions = [*(current.versions if current else ()), str(dist.version)]
        # a deprecated project keeps its PEP 792 status across uploads
        status = (
            {"status": current.status, "status_reason": current.status_reason} if current else {}
        )
        return ProjectPage.build(dist.name, files, versions, origin="private", **status)

    await update_project(store, dist.name, _add)
    await update_root(store, lambda projects: ProjectList.of([*projects.projects, dist.name]))
    return Published(file, created=True)
