"""One contract for every BlobStore: the local directory and Azure (on a real Azurite)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from blobpi.mirror.core.errors import (
    BlobExists,
    BlobNotFound,
    HashMismatch,
    LeaseHeld,
    PreconditionFailed,
)
from blobpi.mirror.store.protocol import CHUNK_SIZE, BlobStore
from tests.conftest import StoreSpec

pytestmark = pytest.mark.anyio


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _read(store: BlobStore, path: str, start: int = 0, length: int | None = None) -> bytes:
    _, chunks = await store.open(path, start=start, length=length)
    return b"".join([chunk async for chunk in chunks])


async def _paths(store: BlobStore, prefix: str = "") -> list[str]:
    return [info.path async for info in store.list(prefix)]


async def test_store__put_get_head_roundtrip(store: BlobStore) -> None:
    info = await store.put("a/b.txt", b"hello", metadata={"sha256": "x"}, content_type="text/plain")
    assert info.size == 5
    blob = await store.get("a/b.txt")
    assert blob is not None and blob.data == b"hello"
    head = await store.head("a/b.txt")
    assert head.etag == info.etag == blob.info.etag
    assert head.metadata["sha256"] == "x"


async def test_store__missing_blob_raises_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        await store.get("nope")
    with pytest.raises(BlobNotFound):
        await store.head("nope")
    with pytest.raises(BlobNotFound):
        await store.open("nope")
    with pytest.raises(BlobNotFound):
        await store.delete("nope")


async def test_store__create_only_is_write_once(store: BlobStore) -> None:
    await store.put("f", b"one", create_only=True)
    with pytest.raises(BlobExists):
        await store.put("f", b"two", create_only=True)
    blob = await store.get("f")
    assert blob is not None and blob.data == b"one"


async def test_store__if_match_swaps_only_unchanged(store: BlobStore) -> None:
    first = await store.put("page", b"v1")
    second = await store.put("page", b"v2", if_match=first.etag)
    assert second.etag != first.etag
    with pytest.raises(PreconditionFailed):
        await store.put("page", b"v3", if_match=first.etag)
    blob = await store.get("page")
    assert blob is not None and blob.data == b"v2"


async def test_store__if_none_match_returns_none_when_unchanged(store: BlobStore) -> None:
    info = await store.put("page", b"v1")
    assert await store.get("page", if_none_match=info.etag) is None
    await store.put("page", b"v2")
    blob = await store.get("page", if_none_match=info.etag)
    assert blob is not None and blob.data == b"v2"


async def test_store__streamed_put_verifies_sha256(store: BlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 256 + 10)  # more than one staged block
    good = hashlib.sha256(data).hexdigest()
    with pytest.raises(HashMismatch):
        await store.put("big", _chunks(data, 65536), create_only=True, sha256="0" * 64)
    assert await _paths(store, "big") == []  # nothing committed
    info = await store.put("big", _chunks(data, 65536), create_only=True, sha256=good)
    assert info.size == len(data)
    assert await _read(store, "big") == data


async def test_store__open_reads_ranges(store: BlobStore) -> None:
    await store.put("r", b"0123456789")
    assert await _read(store, "r", start=2, length=3) == b"234"
    assert await _read(store, "r", start=7) == b"789"
    info, _ = await store.open("r", start=5, length=2)
    assert info.size == 10  # the whole blob's size, even for a range


async def test_store__list_and_delete(store: BlobStore) -> None:
    for path in ("simple/a/index.v1_json", "simple/b/index.v1_json", "packages/x"):
        await store.put(path, b"{}")
    assert await _paths(store, "simple/") == ["simple/a/index.v1_json", "simple/b/index.v1_json"]
    assert await _paths(store, "simple/a") == ["simple/a/index.v1_json"]
    assert len(await _paths(store)) == 3  # the store's own bookkeeping is never listed
    info = await store.head("packages/x")
    await store.put("packages/x", b"changed")
    with pytest.raises(PreconditionFailed):
        await store.delete("packages/x", if_match=info.etag)
    await store.delete("packages/x")
    assert await _paths(store, "packages/") == []


async def test_store__empty_blob(store: BlobStore) -> None:
    await store.put("empty", _chunks(b""), sha256=hashlib.sha256(b"").hexdigest())
    assert await _read(store, "empty") == b""
    assert (await store.head("empty")).size == 0


async def test_store__create_only_keeps_existing_metadata(store: BlobStore) -> None:
    await store.put("f", b"one", create_only=True, metadata={"origin": "private"})
    with pytest.raises(BlobExists):
        await store.put("f", b"two", create_only=True, metadata={"origin": "mirror"})
    assert (await store.head("f")).metadata["origin"] == "private"


class _SourceBroke(Exception):
    pass


async def _broken(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise _SourceBroke("the connection dropped")


async def test_store__failing_source_raises_its_error_and_commits_nothing(
    store: BlobStore,
) -> None:
    with pytest.raises(_SourceBroke):  # the source's own error, for the caller to retry
        await store.put("f", _broken(b"x" * 100_000), create_only=True)
    assert await _paths(store) == []


async def test_store__lease_is_exclusive_and_released(store: BlobStore) -> None:
    await store.ensure()
    async with store.lease("state/t.lock", wait=0):
        with pytest.raises(LeaseHeld, match="'state/t.lock'.*--wait SECONDS"):
            async with store.lease("state/t.lock", wait=0):
                pass
        async with store.lease("state/other.lock", wait=0):  # another path, another lease
            pass
    async with store.lease("state/t.lock", wait=0):  # free again once the block ends
        pass


async def test_store__opens_as_an_async_context_manager(store_spec: StoreSpec) -> None:
    async with store_spec.open() as store:
        await store.ensure()
        await store.put("x", b"1")
    async with store_spec.open() as again:  # closing one store leaves the container as it was
        assert (await again.head("x")).size == 1
