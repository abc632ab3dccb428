"""The upstream index: the only HTTP client of the sync worker (httpx).

Speaks PEP 691 JSON (and PEP 503 HTML when that is all an index offers), with conditional
requests per project (``ETag`` / ``If-None-Match``; ``X-PyPI-Last-Serial`` or PEP 691
``meta._last-serial`` is recorded when present), bounded concurrency, and retries with
exponential backoff on 5xx, 429, timeouts and broken connections. Expect imperfect upstreams:
some send no ETag, no serial and no PEP 658 ``core-metadata`` keys, though ``.metadata`` files
may exist beside the wheels. Errors: a 404 project is ``ProjectNotFound``; anything else that
fails is ``UpstreamUnavailable``, with the URL's credentials redacted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urldefrag, urljoin

import anyio
import httpx

from blobpi.mirror.core.errors import ProjectNotFound, UpstreamUnavailable
from blobpi.mirror.core.model import File
from blobpi.mirror.store.protocol import CHUNK_SIZE, redact_url

__all__ = ["RETRYABLE", "RetryLater", "Upstream", "UpstreamProject", "UpstreamUnreachable"]

T = TypeVar("T")
_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)
RETRYABLE = (httpx.TransportError, httpx.TimeoutException)
MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 8 * 1024 * 1024


class RetryLater(Exception):
    """A response worth retrying (5xx, 429)."""


class UpstreamUnreachable(UpstreamUnavailable):
    """Not one connection to the upstream could be made (refused, no route, DNS): the
    upstream URL or the network is wrong, not one project."""


@dataclasses.dataclass(frozen=True, slots=True)
class UpstreamProject:
    files: tuple[File, ...]
    etag: str | None
    serial: int | None


class _Anchors(HTMLParser):
    """PEP 503 anchors with their PEP 592/658/714 data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def _files_from_html(text: str, page_url: str) -> list[File]:
    parser = _Anchors()
    parser.feed(text)
    files = []
    for a in parser.anchors:
        url, fragment = urldefrag(urljoin(page_url, a["href"] or ""))
        algorithm, _, digest = fragment.partition("=")
        metadata = a.get("data-core-metadata", a.get("data-dist-info-metadata"))
        core: bool | dict[str, str] = False
        if metadata is not None:
            name, _, value = metadata.partition("=")
            core = {name: value} if value else metadata != "false"
        files.append(
            File(
                filename=url.rsplit("/", 1)[-1],
                url=url,
                hashes={algorithm: digest} if digest else {},
                requires_python=a.get("data-requires-python") or None,
                yanked=(a.get("data-yanked") or True) if "data-yanked" in a else False,
                core_metadata=core,
            )
        )
    return files


def _parse_page(response: httpx.Response, name: str) -> tuple[list[File], int | None]:
    page_url = str(response.url)
    content_type = response.headers.get("content-type", "")
    serial = response.headers.get("x-pypi-last-serial")
    if "json" in content_type:
        raw: dict[str, Any] = json.loads(response.content)
        serial = raw.get("meta", {}).get("_last-serial", serial)
        files = [
            dataclasses.replace(
                f,
                url=urljoin(page_url, f.url),
                provenance=urljoin(page_url, f.provenance) if f.provenance else None,
            )
            for f in (File.from_json(item) for item in raw["files"])
        ]
    else:
        files = _files_from_html(response.text, page_url)
    for f in files:
        if not isinstance(f.filename, str) or not f.url:
            raise ValueError(f"a file entry without filename or url: {f!r}")
    return files, int(serial) if serial is not None else None


class Upstream:
    """A PEP 691 index. Use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        concurrency: int = 8,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.where = redact_url(self.base_url)
        self.retries = retries
        self.backoff = backoff
        self.limit = anyio.CapacityLimiter(concurrency)
        self.requests = 0  # every request sent, for the report and the no-op test
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            headers={"User-Agent": "blobpi-sync"},
        )

    async def __aenter__(self) -> Upstream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds, backing off on retryable failures."""
        for number in range(self.retries + 1):
            try:
                async with self.limit:
                    self.requests += 1
                    return await attempt()
            except (RetryLater, *RETRYABLE) as e:
                if number == self.retries:
                    reason = str(e) or type(e).__name__
                    unreachable = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout))
                    raise (UpstreamUnreachable if unreachable else UpstreamUnavailable)(
                        f"{what} failed {self.retries + 1} times ({reason[:200]}): check "
                        f"that {self.where} is reachable, then rerun"
                    ) from None
                await anyio.sleep(min(self.backoff * 2**number, 30))
        raise AssertionError("unreachable")

    @staticmethod
    def check(response: httpx.Response) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryLater(f"HTTP {response.status_code}")

    async def project(self, name: str, etag: str | None = None) -> UpstreamProject | None:
        """The project's files, or None when ``etag`` still matches (HTTP 304)."""
        url = f"{self.base_url}{name}/"
        headers = {"Accept": _ACCEPT}
        if etag:
            headers["If-None-Match"] = etag

        async def _get() -> httpx.Response:
            response = await self._client.get(url, headers=headers)
            self.check(response)
            return response

        response = await self.retrying(f"reading the upstream page of {name!r}", _get)
        if response.status_code == 304:
            return None
        if response.status_code == 404:
            raise ProjectNotFound(
                f"the upstream {self.where} has no project {name!r}: check the spelling in "
                "the allow-list"
            )
        if response.status_code != 200 or len(response.content) > MAX_PAGE_BYTES:
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} answered HTTP {response.status_code}: check "
                f"{self.where} and its credentials"
            )
        try:
            files, serial = _parse_page(response, name)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} is malformed ({type(e).__name__}: "
                f"{str(e)[:120]}): the upstream must serve PEP 691 JSON or PEP 503 HTML"
            ) from None
        return UpstreamProject(tuple(files), response.headers.get("etag"), serial)

    async def small(self, url: str) -> bytes | None:
        """A small file (``.metadata``, provenance), or None when the upstream has none."""

        async def _get() -> httpx.Response:
            response = await self._client.get(url)
            self.check(response)
            return response

        response = await self.retrying(f"downloading {redact_url(url)}", _get)
        if response.status_code in (404, 403, 410):
            return None
        if response.status_code != 200 or len(response.content) > MAX_METADATA_BYTES:
            raise UpstreamUnavailable(
                f"{redact_url(url)} answered HTTP {response.status_code}: check the upstream"
            )
        return response.content

    @contextlib.asynccontextmanager
    async def stream(self, url: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """Stream one download in chunks; the caller retries (and counts) the whole transfer
        through ``retrying``."""
        async with self._client.stream("GET", url) as response:
            self.check(response)
            if response.status_code != 200:
                raise UpstreamUnavailable(
                    f"{redact_url(url)} answered HTTP {response.status_code}: relock if the "
                    "file is gone, else check the upstream"
                )
            yield response.aiter_bytes(CHUNK_SIZE)
