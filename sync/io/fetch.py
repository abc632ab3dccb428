"""Fetch one file into the container: stream it through a sha256 check, write-once, then its
PEP 658 ``.metadata``: the METADATA inside the stored wheel (read by ranges), which the
upstream's own ``.metadata`` must equal byte for byte (checked by the sha256 its page lists,
else fetched and compared), so every mirrored wheel has one that tells the truth. A file
that is already there with the expected hash is not fetched again, which is how a killed sync
resumes; a stored blob with another hash is never reused.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Callable
from typing import IO

import anyio.to_thread

from blobpi.mirror.core.distribution import inspect_distribution
from blobpi.mirror.core.errors import BlobExists, BlobNotFound, HashMismatch, UpstreamUnavailable
from blobpi.mirror.core.layout import metadata_path, metadata_url, provenance_path
from blobpi.mirror.core.model import File, format_upload_time
from blobpi.mirror.store.protocol import BlobInfo, BlobStore
from blobpi.mirror.store.reader import BlobReader
from blobpi.sync.core.plan import Wanted
from blobpi.sync.io.upstream import RetryLater, Upstream

__all__ = ["INLINE_BYTES", "fetch_file"]

INLINE_BYTES = 256 * 1024  # a wheel up to this size has its METADATA read on the event loop


class _Body:
    """The chunks of one download as they pass to the store, counted. A body of one chunk
    (``_paced`` joins pieces up to ``CHUNK_SIZE``, so memory stays bounded) is kept as
    ``whole``: a small wheel's METADATA is read from the bytes the store verified, not read
    back from it (three worker-thread hops per wheel)."""

    def __init__(self, tick: Callable[[int], None]) -> None:
        self._tick = tick
        self.whole: bytes | None = None

    async def counted(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        self.whole = None  # a retried attempt starts again
        first = True
        async for chunk in chunks:
            self._tick(len(chunk))
            self.whole = chunk if first else None
            first = False
            yield chunk


async def _download(store: BlobStore, upstream: Upstream, wanted: Wanted, body: _Body) -> int:
    file, sha256 = wanted.upstream, wanted.upstream.sha256 or ""
    metadata = {
        "sha256": sha256,
        "upload_time": format_upload_time(file.upload_time) if file.upload_time else "",
        "origin": "mirror",
    }

    async def _attempt() -> int:
        try:
            async with upstream.stream(file.url, file.size) as chunks:
                info = await store.put(
                    wanted.path,
                    body.counted(chunks),
                    create_only=True,
                    sha256=sha256,
                    metadata=metadata,
                    content_type="application/octet-stream",
                )
                return info.size
        except HashMismatch:
            # A short or corrupted body: retried; if it persists it is reported, never stored.
            raise RetryLater(
                f"the bytes of {file.filename!r} do not match the sha256 the upstream lists"
            ) from None
        except BlobExists:
            # A concurrent sync (or another project's page naming the same path) stored it:
            # reused only when its verified sha256 is the one this page lists.
            body.whole = None  # not the bytes this run stored: read back from the store
            return _same_bytes(await store.head(wanted.path), wanted)

    return await upstream.retrying(f"downloading {file.filename!r}", _attempt)


def _same_bytes(info: BlobInfo, wanted: Wanted) -> int:
    """The size of a stored blob that holds this page's file; else an error (a blob is
    reused only when its verified sha256, in its metadata since it was written, matches)."""
    if info.metadata.get("sha256") != wanted.upstream.sha256:
        raise UpstreamUnavailable(
            f"{wanted.path!r} is already stored with another sha256 than the page of "
            f"{wanted.upstream.filename!r} lists: the upstream changed a file under the same URL "
            "(or two pages list one path); not listed, delete the blob only if you trust it"
        )
    return info.size


async def _wheel_metadata(
    store: BlobStore, path: str, filename: str, size: int, whole: bytes | None
) -> bytes:
    """METADATA from the stored, verified wheel: ``whole``, the bytes this run stored (their
    sha256 checked by the store before it published them), else ranged reads of its zip
    directory and that one member, whatever the wheel's size."""
    if whole is not None and len(whole) == size:
        if size <= INLINE_BYTES:
            # Parsed here, on the event loop: about 0.2 ms for a small wheel, less than the
            # worker-thread hop it would take (profiled), and bounded: a zip this small
            # holds a few thousand members at most.
            return inspect_distribution(filename, io.BytesIO(whole)).metadata
        reader: IO[bytes] = io.BytesIO(whole)
    else:
        reader = io.BufferedReader(BlobReader(store, path, size))
    inspected = await anyio.to_thread.run_sync(inspect_distribution, filename, reader)
    return inspected.metadata


async def _metadata(
    store: BlobStore, upstream: Upstream, wanted: Wanted, size: int, whole: bytes | None
) -> dict[str, str]:
    """The ``.metadata`` sidecar is the wheel's own METADATA (PEP 658), read from the stored,
    verified wheel. The upstream's ``.metadata``, when it has one, must be the same bytes: one
    that differs would give resolvers a false dependency tree, so the file is refused."""
    file, path = wanted.upstream, metadata_path(wanted.path)
    own = await _wheel_metadata(store, wanted.path, file.filename, size, whole)
    expected = file.core_metadata.get("sha256") if isinstance(file.core_metadata, dict) else None
    # A page that lists the sha256 of its .metadata and ours hashes to it: theirs is the same
    # bytes, so it is not fetched, and ours is written at once (an existing one is read only
    # when the write finds it: a hop fewer than looking first). Otherwise (no hash listed:
    # some upstreams serve .metadata files without saying so in the page) theirs is fetched
    # and compared, unless one is stored already.
    vouched = expected is not None and hashlib.sha256(own).hexdigest() == expected
    stored: bytes | None = None
    if not vouched:
        try:
            blob = await store.get(path)
            assert blob is not None
            stored = blob.data
        except BlobNotFound:
            stored = None
    if stored is None:
        theirs = None if vouched else await upstream.small(metadata_url(file.url))
        if theirs is not None and expected and hashlib.sha256(theirs).hexdigest() != expected:
            raise UpstreamUnavailable(
                f"the upstream's .metadata of {file.filename!r} does not match the sha256 its "
                "page lists: not mirrored; rerun later or report it to the upstream"
            )
        if theirs is not None and theirs != own:
            raise UpstreamUnavailable(
                f"the upstream's .metadata of {file.filename!r} differs from the METADATA "
                "inside the wheel (PEP 658 requires the same bytes): not mirrored; report it "
                "to the upstream"
            )
        try:
            await store.put(path, own, create_only=True, content_type="application/octet-stream")
        except BlobExists:
            again = await store.get(path)  # written since we looked (or before): checked
            assert again is not None
            stored = again.data
    if stored is not None and stored != own:
        raise UpstreamUnavailable(
            f"{path!r} is stored but differs from the METADATA inside {file.filename!r}: "
            "not listed; delete that .metadata blob so the next sync derives it again"
        )
    return {"sha256": hashlib.sha256(own).hexdigest()}


async def _provenance(store: BlobStore, upstream: Upstream, wanted: Wanted) -> str | None:
    """PEP 740: the upstream's provenance file beside ours, linked relative to the page."""
    if not wanted.upstream.provenance:
        return None
    path = provenance_path(wanted.path)
    try:
        await store.head(path)
    except BlobNotFound:
        data = await upstream.small(wanted.upstream.provenance)
        if data is None:
            return None
        try:
            await store.put(path, data, create_only=True, content_type="application/json")
        except BlobExists:
            pass
    return File.stored(path, filename=wanted.upstream.filename, hashes={}).url


async def fetch_file(
    store: BlobStore, upstream: Upstream, wanted: Wanted, tick: Callable[[int], None]
) -> tuple[File, int]:
    """Store one file (and its metadata); returns its page entry and the bytes downloaded."""
    file, sha256 = wanted.upstream, wanted.upstream.sha256
    body = _Body(tick)
    try:
        size, downloaded = _same_bytes(await store.head(wanted.path), wanted), 0
    except BlobNotFound:
        size = downloaded = await _download(store, upstream, wanted, body)
    core: dict[str, str] | bool = False
    if file.filename.endswith(".whl"):
        core = await _metadata(store, upstream, wanted, size, body.whole)
    provenance = await _provenance(store, upstream, wanted)
    stored = File.stored(
        wanted.path,
        filename=file.filename,
        hashes={"sha256": sha256},
        requires_python=file.requires_python,
        yanked=file.yanked,
        size=size,
        upload_time=file.upload_time,
        core_metadata=core,
        provenance=provenance,
    )
    return stored, downloaded
