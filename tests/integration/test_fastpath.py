"""The page fast path (``mirror/server/fastpath.py``) and the cache under it: a cached page is
never served past ``BLOBPI_PAGE_TTL``, and the fast path leaves to the routes all it does
not answer. The same answers over real sockets are in ``test_stacks``."""

from __future__ import annotations

import types
from pathlib import Path

import anyio
import pytest
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.sources import parse_settings
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.server.app import create_app
from blobpi.mirror.server.cache import CachedPage, HeadCache, PageCache, SmallFiles
from blobpi.mirror.server.fastpath import CHUNK, FastPages, prepare
from blobpi.mirror.store.local import LocalStore
from tests.support.dists import build_wheel

JSON = "application/vnd.pypi.simple.v1+json"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _publish_async(data: Path, wheel: Path) -> None:
    async with LocalStore(data) as store:
        await store.ensure()
        with wheel.open("rb") as f:
            await publish(store, wheel.name, f, max_bytes=10**8)


def _publish(data: Path, wheel: Path) -> None:
    anyio.run(_publish_async, data, wheel)


def test_fastpath__page_is_never_older_than_the_ttl(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _publish(data, build_wheel(tmp_path / "a", "demo", "1.0"))
    settings = parse_settings({"BLOBPI_STORAGE": str(data), "BLOBPI_PAGE_TTL": "30"})
    app = create_app(settings)
    with TestClient(app) as client:
        clock = Clock()
        app.state.pages = PageCache(app.state.store, 30, clock=clock)
        headers = {"Accept": JSON}
        first = client.get("/simple/demo/", headers=headers)
        assert first.json()["versions"] == ["1.0"]
        assert first.headers["cache-control"] == "max-age=30"
        _publish(data, build_wheel(tmp_path / "b", "demo", "2.0"))
        clock.now += 29.9  # within the TTL the cached page may be served: documented
        assert client.get("/simple/demo/", headers=headers).json()["versions"] == ["1.0"]
        clock.now += 0.1  # at the TTL, never: the next request revalidates against the blob
        second = client.get("/simple/demo/", headers=headers)
        assert second.json()["versions"] == ["1.0", "2.0"]
        assert second.headers["etag"] != first.headers["etag"]
        old = {**headers, "If-None-Match": first.headers["etag"]}
        again = client.get("/simple/demo/", headers=old)
        assert again.status_code == 200  # the old ETag no longer matches


class Inner:
    """The app behind the fast path: records what reaches it, answers 418."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.mark.anyio
async def test_fastpath__answers_only_fresh_canonical_pages(tmp_path: Path) -> None:
    data = tmp_path / "data"
    await _publish_async(data, build_wheel(tmp_path / "a", "demo", "1.0"))
    settings = parse_settings({"BLOBPI_STORAGE": str(data), "BLOBPI_PAGE_TTL": "30"})
    clock = Clock()
    store = LocalStore(data)
    pages = PageCache(store, 30, clock=clock)
    await pages.get("simple/demo/index.v1_json")  # what the routes do on a miss
    app = types.SimpleNamespace(state=types.SimpleNamespace(pages=pages, settings=settings))
    inner = Inner()
    fast = FastPages(inner)

    async def call(path: str, query: bytes = b"", accept: bytes = JSON.encode()) -> int:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query,
            "headers": [(b"accept", accept)],
            "app": app,
        }
        await fast(scope, receive, send)
        return int(sent[0]["status"])

    assert await call("/simple/demo/") == 200 and inner.paths == []
    # the HTML is rendered from the cached record itself: no second blob, nothing to tear
    assert await call("/simple/demo/", accept=b"text/html") == 200 and inner.paths == []
    assert await call("/simple/Demo/") == 418  # non-canonical: the route redirects
    assert await call("/simple/demo/", query=b"format=" + JSON.encode()) == 418
    assert await call("/simple/demo/", accept=b"application/json") == 418  # the route's 406
    assert await call("/simple/nothing/") == 418
    clock.now += 30
    assert await call("/simple/demo/") == 418  # stale: the route revalidates
    assert len(inner.paths) == 5


@pytest.mark.anyio
async def test_head_cache__keeps_heads_for_the_ttl_only(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    await store.ensure()
    await store.put("packages/aa/bb/x/demo-1.0.tar.gz", b"one")
    clock = Clock()
    heads = HeadCache(store, 30, clock=clock)
    assert (await heads.head("packages/aa/bb/x/demo-1.0.tar.gz")).size == 3
    await store.delete("packages/aa/bb/x/demo-1.0.tar.gz")
    clock.now += 29.9  # a pruned file's head may be kept as long as a page is
    assert (await heads.head("packages/aa/bb/x/demo-1.0.tar.gz")).size == 3
    clock.now += 0.1
    with pytest.raises(BlobNotFound):
        await heads.head("packages/aa/bb/x/demo-1.0.tar.gz")
    await store.put("packages/aa/bb/x/demo-1.0.tar.gz", b"again")
    assert (await heads.head("packages/aa/bb/x/demo-1.0.tar.gz")).size == 5  # misses not kept


@pytest.mark.anyio
async def test_small_files__kept_by_etag_bounded_and_only_small(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "data")
    await store.ensure()
    a, b, big = "packages/aa/bb/x/a-1.0.tar.gz", "packages/aa/bb/x/b-1.0.tar.gz", "p/big"
    for path, data in ((a, b"a" * 600), (b, b"b" * 600), (big, b"z" * (SmallFiles.LIMIT + 1))):
        await store.put(path, data)
    files = SmallFiles(store, max_bytes=1000)
    a_head, b_head, big_head = [await store.head(p) for p in (a, b, big)]
    assert await files.body(a_head) == b"a" * 600
    await store.delete(a)  # kept: only the HeadCache, consulted first, says it has gone
    assert await files.body(a_head) == b"a" * 600
    await store.put(a, b"A" * 10)  # a new ETag: read again, not the kept body
    assert await files.body(await store.head(a)) == b"A" * 10
    assert await files.body(b_head) == b"b" * 600
    assert len(await files.body(big_head)) == SmallFiles.LIMIT + 1
    for path in (a, b, big):
        await store.delete(path)
    assert await files.body(b_head) == b"b" * 600  # kept
    with pytest.raises(BlobNotFound):  # a big body is never kept
        await files.body(big_head)
    files = SmallFiles(store, max_bytes=1000)
    for path, data in ((a, b"a" * 600), (b, b"b" * 600)):
        await store.put(path, data)
    a_head, b_head = await store.head(a), await store.head(b)
    await files.body(a_head)
    await files.body(b_head)  # 1,200 bytes: the least recently used goes
    await store.delete(a)
    await store.delete(b)
    assert await files.body(b_head) == b"b" * 600
    with pytest.raises(BlobNotFound):
        await files.body(a_head)


def test_small_files__a_deleted_file_is_not_served_past_the_ttl(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0")
    anyio.run(_publish_async, tmp_path / "data", wheel)
    settings = parse_settings({"BLOBPI_PAGE_TTL": "0", "BLOBPI_STORAGE": str(tmp_path / "data")})
    with TestClient(create_app(settings)) as client:
        page = client.get("/simple/demo/", headers={"Accept": JSON}).json()
        url = page["files"][0]["url"].removeprefix("../..")
        for path in (url, url + ".metadata"):
            first = client.get(path)
            assert first.status_code == 200 and first.content == client.get(path).content
            assert first.headers["content-length"] == str(len(first.content))
            assert client.get(path, headers={"Range": "bytes=2-5"}).content == first.content[2:6]
            (tmp_path / "data" / path.removeprefix("/")).unlink()
            assert client.get(path).status_code == 404


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5])
def test_prepare__pieces_are_the_body(size: int) -> None:
    page = CachedPage.of(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    settings = parse_settings({})
    prepared = prepare(page, Format.JSON, settings.server)
    for variant, body in ((prepared.identity, page.body), (prepared.gzip, page.gzipped)):
        assert b"".join(variant.chunks) == body
        assert all(len(c) <= CHUNK for c in variant.chunks)
        length = dict(variant.ok)[b"content-length"]
        assert length == str(len(body)).encode()
