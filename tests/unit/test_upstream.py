"""The upstream client (sync/io/upstream.py) over ``httpx.MockTransport``: retries and
backoff (429, 5xx, Retry-After), ETag and 304, PEP 691 / PEP 503 parsing, error translation."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from blobpi.mirror.core.errors import (
    ForeignOrigin,
    ProjectNotFound,
    UpstreamTooLarge,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from blobpi.mirror.core.origins import Origins
from blobpi.sync.io.upstream import Upstream, UpstreamProject, retry_after

pytestmark = pytest.mark.anyio

BASE = "https://index.test/simple/"
SHA = "a" * 64
PAGE = {
    "meta": {"api-version": "1.1", "_last-serial": 42},
    "name": "demo",
    "files": [
        {
            "filename": "demo-1.0-py3-none-any.whl",
            "url": "../../files/demo-1.0-py3-none-any.whl",
            "hashes": {"sha256": SHA},
            "requires-python": ">=3.9",
            "core-metadata": {"sha256": SHA},
            "yanked": "broken",
        }
    ],
}
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """The requests a handler saw and the waits the client asked for."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.waits: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def upstream(self, retries: int = 3) -> tuple[Upstream, httpx.AsyncClient]:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return Upstream(BASE, client=client, retries=retries, backoff=0.5, sleep=self.sleep), client


def _json(body: object = PAGE, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": JSON_TYPE, **headers}
    )


async def test_upstream__parses_pep691_json_with_relative_urls() -> None:
    recorder = Recorder(_json(etag='"v1"'))
    upstream, client = recorder.upstream()
    async with client, upstream:
        got = await upstream.project("demo")
    assert isinstance(got, UpstreamProject)
    assert (got.etag, got.serial) == ('"v1"', 42)
    (f,) = got.files
    assert f.url == "https://index.test/files/demo-1.0-py3-none-any.whl"
    assert (f.hashes, f.requires_python, f.yanked) == ({"sha256": SHA}, ">=3.9", "broken")
    assert recorder.requests[0].headers["accept"].startswith(JSON_TYPE)


async def test_upstream__parses_pep503_html() -> None:
    html = (
        '<a href="/f/demo-1.0.tar.gz#sha256=' + SHA + '" data-requires-python="&gt;=3.8" '
        'data-yanked="" data-dist-info-metadata="sha256=' + SHA + '">demo-1.0.tar.gz</a>'
    )
    recorder = Recorder(
        httpx.Response(
            200, text=html, headers={"content-type": "text/html", "x-pypi-last-serial": "7"}
        )
    )
    upstream, client = recorder.upstream()
    async with client, upstream:
        got = await upstream.project("demo")
    assert got is not None and got.serial == 7
    (f,) = got.files
    assert (f.filename, f.url) == ("demo-1.0.tar.gz", "https://index.test/f/demo-1.0.tar.gz")
    assert (f.requires_python, f.yanked, f.core_metadata) == (">=3.8", True, {"sha256": SHA})


async def test_upstream__sends_the_etag_and_takes_304_as_unchanged() -> None:
    recorder = Recorder(httpx.Response(304))
    upstream, client = recorder.upstream()
    async with client, upstream:
        assert await upstream.project("demo", etag='"v1"') is None
    assert recorder.requests[0].headers["if-none-match"] == '"v1"'


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_upstream__retries_with_exponential_backoff(status: int) -> None:
    recorder = Recorder(httpx.Response(status), httpx.Response(status), _json())
    upstream, client = recorder.upstream()
    async with client, upstream:
        got = await upstream.project("demo")
    assert got is not None and len(got.files) == 1
    assert recorder.waits == [0.5, 1.0]
    assert upstream.requests == 3


async def test_upstream__honours_retry_after_but_caps_it() -> None:
    recorder = Recorder(
        httpx.Response(429, headers={"retry-after": "5"}),
        httpx.Response(503, headers={"retry-after": "3600"}),
        _json(),
    )
    upstream, client = recorder.upstream()
    async with client, upstream:
        await upstream.project("demo")
    assert recorder.waits == [5.0, 30.0]


def test_retry_after__http_date() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after("Thu, 01 Jan 2026 12:00:09 GMT", now) == 9.0
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert retry_after(None) is None


async def test_upstream__gives_up_after_the_retries_as_unavailable() -> None:
    recorder = Recorder(httpx.Response(503))
    upstream, client = recorder.upstream(retries=2)
    async with client, upstream:
        with pytest.raises(UpstreamUnavailable, match="failed 3 times .*HTTP 503") as caught:
            await upstream.project("demo")
    assert not isinstance(caught.value, UpstreamUnreachable)
    assert len(recorder.requests) == 3 and len(recorder.waits) == 2


async def test_upstream__no_connection_is_unreachable() -> None:
    recorder = Recorder(httpx.ConnectError("connection refused"))
    upstream, client = recorder.upstream(retries=1)
    async with client, upstream:
        with pytest.raises(UpstreamUnreachable, match="index.test"):
            await upstream.project("demo")


async def test_upstream__404_is_project_not_found() -> None:
    recorder = Recorder(httpx.Response(404))
    upstream, client = recorder.upstream()
    async with client, upstream:
        with pytest.raises(ProjectNotFound, match="'demo'"):
            await upstream.project("demo")
    assert recorder.waits == []


@pytest.mark.parametrize(
    "response",
    [
        _json({"meta": {}, "files": [{"url": "x"}]}),  # no filename
        httpx.Response(200, content=b"{not json", headers={"content-type": JSON_TYPE}),
        httpx.Response(401),
    ],
)
async def test_upstream__bad_pages_are_unavailable(response: httpx.Response) -> None:
    upstream, client = Recorder(response).upstream()
    async with client, upstream:
        with pytest.raises(UpstreamUnavailable, match="'demo'"):
            await upstream.project("demo")


async def test_upstream__credentials_never_reach_the_message() -> None:
    recorder = Recorder(httpx.Response(500))
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    upstream = Upstream(
        "https://user:hunter2@index.test/simple/", client=client, retries=0, sleep=recorder.sleep
    )
    async with client, upstream:
        with pytest.raises(UpstreamUnavailable) as caught:
            await upstream.project("demo")
    assert "hunter2" not in str(caught.value) and "index.test" in str(caught.value)


async def test_upstream__closes_only_a_client_it_made() -> None:
    recorder = Recorder(_json())
    upstream, client = recorder.upstream()
    async with upstream:
        pass
    assert not client.is_closed
    await client.aclose()
    own = Upstream(BASE)
    async with own:
        pass
    assert own._client.is_closed


# --- origins, redirects, limits while streaming, credentials (issue 10) -----------------


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata service
        "https://index.test.evil.example/simple/demo/",  # a look-alike host
        "http://index.test/simple/demo/",  # same host, other scheme: another origin
        "https://index.test:8443/simple/demo/",  # same host, other port
        "file:///etc/passwd",
    ],
)
async def test_upstream__a_redirect_off_the_allowed_origins_is_never_followed(
    location: str,
) -> None:
    recorder = Recorder(httpx.Response(302, headers={"location": location}), _json())
    upstream, client = recorder.upstream()
    async with client, upstream:
        with pytest.raises(ForeignOrigin, match="not fetched"):
            await upstream.project("demo")
    assert [str(r.url) for r in recorder.requests] == [BASE + "demo/"]


async def test_upstream__each_hop_is_checked_and_an_allowed_one_followed() -> None:
    files = "https://files.test/demo/"
    recorder = Recorder(
        httpx.Response(301, headers={"location": "/simple/demo-moved/"}),
        httpx.Response(302, headers={"location": files}),
        _json(),
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    origins = Origins.of(BASE, ["https://files.test"])
    async with client, Upstream(BASE, client=client, origins=origins) as upstream:
        got = await upstream.project("demo")
    assert got is not None
    assert [str(r.url) for r in recorder.requests][1:] == [BASE + "demo-moved/", files]
    (f,) = got.files  # relative links resolve against the last hop
    assert f.url == "https://files.test/files/demo-1.0-py3-none-any.whl"


async def test_upstream__a_gzip_bomb_stops_at_the_limit_while_streaming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("blobpi.sync.io.upstream.MAX_PAGE_BYTES", 1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    pulled: list[int] = []

    async def _bomb() -> AsyncIterator[bytes]:
        for number in range(300):  # 300 MiB once inflated, about 1 KiB per chunk on the wire
            pulled.append(number)
            yield compressor.compress(b" " * (1 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)

    def _answer(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": JSON_TYPE, "content-encoding": "gzip"}
        return httpx.Response(200, content=_bomb(), headers=headers)

    client = httpx.AsyncClient(transport=httpx.MockTransport(_answer))
    async with client, Upstream(BASE, client=client, retries=0) as upstream:
        with pytest.raises(UpstreamTooLarge, match="over 1,048,576 bytes"):
            await upstream.project("demo")
    assert len(pulled) < 5  # refused after reading about the limit, not the whole body


async def test_upstream__credentials_go_in_a_header_never_in_a_url() -> None:
    recorder = Recorder(_json())
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    user_url = "https://bob:p%40ss-w0rd@index.test/simple/"
    async with client, Upstream(user_url, client=client) as upstream:
        got = await upstream.project("demo")
    (request,) = recorder.requests
    assert str(request.url) == BASE + "demo/"
    assert (
        request.headers["authorization"] == "Basic " + base64.b64encode(b"bob:p@ss-w0rd").decode()
    )
    assert got is not None and "p%40ss" not in got.files[0].url and "bob" not in upstream.where


async def test_upstream__credentials_are_not_sent_to_another_allowed_origin() -> None:
    recorder = Recorder(httpx.Response(200, content=b"data"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    origins = Origins.of("https://bob:pw12@index.test/simple/", ["https://files.test"])
    user_url = "https://bob:pw12@index.test/simple/"
    async with client, Upstream(user_url, client=client, origins=origins) as upstream:
        assert await upstream.small("https://files.test/x.metadata") == b"data"
    assert "authorization" not in recorder.requests[0].headers


async def test_upstream__a_download_longer_than_its_listed_size_is_stopped() -> None:
    recorder = Recorder(httpx.Response(200, content=b"x" * 5000))
    upstream, client = recorder.upstream()
    async with client, upstream, upstream.stream(BASE + "f.whl", size=4000) as chunks:
        with pytest.raises(UpstreamTooLarge, match="over 4,000 bytes"):
            async for _ in chunks:
                pass


async def test_upstream__a_page_naming_an_unknown_charset_is_read_as_utf8() -> None:
    html = f'<a href="/f/demo-1.0.tar.gz#sha256={SHA}">demo-1.0.tar.gz</a>'
    recorder = Recorder(
        httpx.Response(
            200, content=html.encode(), headers={"content-type": "text/html; charset=evil"}
        )
    )
    upstream, client = recorder.upstream()
    async with client, upstream:
        got = await upstream.project("demo")
    assert got is not None and [f.filename for f in got.files] == ["demo-1.0.tar.gz"]


async def test_upstream__a_download_gives_its_slot_back_once_its_body_is_read() -> None:
    """The store flushes a file after its body is read: the next request need not wait for
    that (one slot here, so a held one would deadlock the page read below)."""
    recorder = Recorder(httpx.Response(200, content=b"x" * 5000), _json())
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    async with client, Upstream(BASE, client=client, concurrency=1) as upstream:
        async with upstream.stream(BASE + "f.whl") as chunks:
            assert upstream.limit.borrowed_tokens == 1
            assert b"".join([c async for c in chunks]) == b"x" * 5000
            assert upstream.limit.borrowed_tokens == 0
            assert await upstream.project("demo") is not None
        assert upstream.limit.borrowed_tokens == 0
        with pytest.raises(UpstreamTooLarge):  # a failed body gives it back as well
            async with upstream.stream(BASE + "f.whl", size=10) as chunks:
                async for _ in chunks:
                    pass
        assert upstream.limit.borrowed_tokens == 0
