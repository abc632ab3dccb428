"""The same HTTP behaviour tests against both server stacks (``blobpi serve --server
granian`` and ``--server uvicorn``), over real sockets: negotiation, the page fast path
against the routes, gzip, 304, HEAD, redirects, and downloads (granian sends whole local
files zero-copy with ASGI ``pathsend``; uvicorn streams them), ranges included."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from blobpi.mirror.ops.publish import Batch
from blobpi.mirror.store.local import LocalStore
from tests.support.dists import build_sdist, build_wheel
from tests.support.processes import Server

pytestmark = pytest.mark.slow

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
_PER_REQUEST = ("date", "server", "x-request-id")  # may differ between two answers


class Index:
    def __init__(self, client: httpx.Client, wheel: Path, big: Path) -> None:
        self.client, self.wheel, self.big = client, wheel, big
        doc = client.get("/simple/demo-pkg/", headers={"Accept": JSON}).json()
        urls = {f["filename"]: f["url"].removeprefix("../..") for f in doc["files"]}
        self.wheel_url, self.big_url = urls[wheel.name], urls[big.name]


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A store with a small wheel, an sdist and a wheel bigger than two read chunks."""
    tmp = tmp_path_factory.mktemp("stacks")
    wheel = build_wheel(tmp / "dist", "Demo_Pkg", "1.0", requires_python=">=3.8")
    sdist = build_sdist(tmp / "dist", "Demo_Pkg", "1.0")
    big = build_wheel(tmp / "dist", "Demo_Pkg", "2.0", payload_bytes=9 * 2**20 + 7)

    async def _fill() -> None:
        async with LocalStore(tmp / "data") as store:
            await store.ensure()
            batch = Batch(store, max_bytes=10**9)
            for path in (wheel, sdist, big):
                with path.open("rb") as f:
                    await batch.add(path.name, f)
            await batch.commit()

    anyio.run(_fill)
    return tmp / "data", wheel, big


@pytest.fixture(scope="module", params=["granian", "uvicorn"])
def index(
    request: pytest.FixtureRequest,
    dists: tuple[Path, Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Index]:
    data, wheel, big = dists
    logs = tmp_path_factory.mktemp(request.param)
    # A page TTL long enough that repeated requests take the fast path.
    with Server.start(
        str(data), {"BLOBPI_PAGE_TTL": "60"}, logs, ["--server", request.param]
    ) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield Index(client, wheel, big)


def _same(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    strip = {k: v for k, v in a.headers.items() if k not in _PER_REQUEST}
    assert strip == {k: v for k, v in b.headers.items() if k not in _PER_REQUEST}


@pytest.mark.parametrize("fmt", [JSON, HTML, "text/html"])
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
@pytest.mark.parametrize("path", ["/simple/", "/simple/demo-pkg/"])
def test_stack__fast_path_answers_as_the_routes_do(
    index: Index, fmt: str, encoding: str, path: str
) -> None:
    headers = {"Accept": fmt, "Accept-Encoding": encoding}
    index.client.get(path, headers=headers)  # fills the cache: the next one is the fast path
    fast = index.client.get(path, headers=headers)
    routed = index.client.get(path, params={"format": fmt}, headers=headers)  # never fast
    _same(fast, routed)
    assert fast.headers["content-type"].startswith(fmt)
    assert fast.headers["vary"] == "Accept, Accept-Encoding"
    for method in ("HEAD", "GET"):
        etag = {"If-None-Match": fast.headers["etag"]}
        not_modified = index.client.request(method, path, headers={**headers, **etag})
        routed_304 = index.client.request(
            method, path, params={"format": fmt}, headers={**headers, **etag}
        )
        assert not_modified.status_code == 304 and not_modified.content == b""
        _same(not_modified, routed_304)
    head = index.client.head(path, headers=headers)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == fast.headers["content-length"]


def test_stack__gzip_body_is_the_plain_body(index: Index) -> None:
    for path in ("/simple/", "/simple/demo-pkg/"):
        plain = index.client.get(path, headers={"Accept": JSON, "Accept-Encoding": "identity"})
        with index.client.stream(
            "GET", path, headers={"Accept": JSON, "Accept-Encoding": "gzip"}
        ) as raw:
            wire = b"".join(raw.iter_raw())
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.headers["content-length"] == str(len(wire))
        assert gzip.decompress(wire) == plain.content
        assert raw.headers["etag"] != plain.headers["etag"]  # one ETag per representation


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/simple/Demo_Pkg/", 301),
        ("/simple/demo-pkg", 307),
        ("/simple/nothing-here/", 404),
        ("/simple/%00/", 404),
        ("/packages/a%2fb", 404),
    ],
)
def test_stack__redirects_and_errors(index: Index, path: str, status: int) -> None:
    for _ in range(2):  # the second time too: the fast path never answers these
        response = index.client.get(path)
        assert response.status_code == status, response.text
    if status == 301:
        assert response.headers["location"].endswith("/simple/demo-pkg/")


def test_stack__406_when_nothing_acceptable(index: Index) -> None:
    for _ in range(2):
        response = index.client.get("/simple/demo-pkg/", headers={"Accept": "application/json"})
        assert response.status_code == 406


@pytest.mark.parametrize("which", ["wheel", "big"])
def test_stack__download_is_the_file(index: Index, which: str) -> None:
    path, url = (index.wheel, index.wheel_url) if which == "wheel" else (index.big, index.big_url)
    data = path.read_bytes()
    response = index.client.get(url)
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    head = index.client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(data))
    cached = index.client.get(url, headers={"If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304


def test_stack__download_ranges_are_the_same_bytes(index: Index) -> None:
    data = index.big.read_bytes()
    size = len(data)
    chunk = 4 * 2**20  # LocalStore's read size: ranges across its boundaries too
    for first, last in [(0, 0), (10, 19), (chunk - 3, chunk + 2), (chunk, 2 * chunk), (1, size)]:
        response = index.client.get(index.big_url, headers={"Range": f"bytes={first}-{last}"})
        end = min(last, size - 1)
        assert response.status_code == 206
        assert response.content == data[first : end + 1]
        assert response.headers["content-range"] == f"bytes {first}-{end}/{size}"
    tail = index.client.get(index.big_url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    stale = index.client.get(index.big_url, headers={"Range": "bytes=0-1", "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.content == data
    beyond = index.client.get(index.big_url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"


def _bytes_sent_for_files(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith('blobpi_http_response_body_bytes_total{route="/packages/{path:path}"}'):
            return float(line.split()[-1])
    return 0.0


def test_stack__metrics_count_the_bytes_of_every_download(index: Index) -> None:
    """granian sends a whole file itself (``pathsend``): its bytes are counted all the same."""
    before = _bytes_sent_for_files(index.client)
    data = index.big.read_bytes()
    assert index.client.get(index.big_url).content == data
    ranged = index.client.get(index.big_url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206
    assert _bytes_sent_for_files(index.client) - before == len(data) + 10
