"""The upstream index: the only HTTP client of the sync worker (httpx).

Speaks PEP 691 JSON (and PEP 503 HTML when that is all an index offers), with conditional
requests per project (``ETag`` / ``If-None-Match``; ``X-PyPI-Last-Serial`` or PEP 691
``meta._last-serial`` is recorded when present), bounded concurrency, and retries with
exponential backoff on 5xx, 429, timeouts and broken connections. Expect imperfect upstreams:
some send no ETag, no serial and no PEP 658 ``core-metadata`` keys, though ``.metadata`` files
may exist beside the wheels. A PEP 792 ``project-status`` (JSON) or ``pypi:project-status``
meta tag (HTML) is passed on with its reason. Errors: a 404 project is ``ProjectNotFound``;
anything else that fails is ``UpstreamUnavailable``, with the URL's credentials redacted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urldefrag, urljoin

import anyio
import httpx

from blobpi.mirror.core.errors import ProjectNotFound, UpstreamUnavailable, UpstreamUnreachable
from blobpi.mirror.core.model import File, Status, status_fields
from blobpi.mirror.store.protocol import CHUNK_SIZE, redact_url

__all__ = [
    "RETRYABLE",
    "RetryLater",
    "Upstream",
    "UpstreamProject",
    "retry_after",
]

T = TypeVar("T")
_JSON = "application/vnd.pypi.simple.v1+json"
_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)
RETRYABLE = (httpx.TransportError, httpx.TimeoutException)
MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 8 * 1024 * 1024
MAX_DELAY = 30.0  # seconds: no single wait, however long a Retry-After asks, blocks a sync


def _untrusted_certificate(error: BaseException) -> str | None:
    """The verification failure behind a connection error, if that is what it is."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        seen = seen.__cause__ or seen.__context__
    return None


class RetryLater(Exception):
    """A response worth retrying (5xx, 429); ``after`` is the server's ``Retry-After``."""

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (RFC 9110: delay-seconds or an HTTP-date).

    >>> retry_after("7"), retry_after("soon")
    (7.0, None)
    """
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


@dataclasses.dataclass(frozen=True, slots=True)
class UpstreamProject:
    files: tuple[File, ...]
    etag: str | None
    serial: int | None
    # PEP 792 project-status and its reason; None is active. A quarantined project lists no
    # files; the sync takes down what it mirrored of it.
    status: Status | None = None
    status_reason: str | None = None


class _Anchors(HTMLParser):
    """PEP 503 anchors with their PEP 592/658/714 data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self.meta: dict[str, str] = {}  # PEP 629 / PEP 792 <meta name=... content=...>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "meta":
            found = dict(attrs)
            if found.get("name") and found.get("content") is not None:
                self.meta.setdefault(str(found["name"]), str(found["content"]))


def _files_from_html(text: str, page_url: str) -> tuple[list[File], dict[str, Any]]:
    parser = _Anchors()
    parser.feed(text)
    status = status_fields(
        {
            "status": parser.meta.get("pypi:project-status"),
            "reason": parser.meta.get("pypi:project-status-reason"),
        }
    )
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
    return files, status


def _parse_page(
    response: httpx.Response, name: str
) -> tuple[list[File], int | None, dict[str, Any]]:
    page_url = str(response.url)
    content_type = response.headers.get("content-type", "")
    serial = response.headers.get("x-pypi-last-serial")
    if "json" in content_type:
        raw: dict[str, Any] = json.loads(response.content)
        serial = raw.get("meta", {}).get("_last-serial", serial)
        status = status_fields(raw.get("project-status"))
        files = [
            dataclasses.replace(
                f,
                url=urljoin(page_url, f.url),
                provenance=urljoin(page_url, f.provenance) if f.provenance else None,
            )
            for f in (File.from_json(item) for item in raw["files"])
        ]
    else:
        files, status = _files_from_html(response.text, page_url)
    for f in files:
        if not isinstance(f.filename, str) or not f.url:
            raise ValueError(f"a file entry without filename or url: {f!r}")
    if status.get("status") == "quarantined":
        files = []  # PEP 792: nothing of it may be offered, whatever the page still lists
    return files, int(serial) if serial is not None else None, status


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
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.where = redact_url(self.base_url)
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep  # a seam: tests record the waits instead of sleeping
        self.limit = anyio.CapacityLimiter(concurrency)
        self.requests = 0  # every request sent, for the report and the no-op test
        # A client passed in (a test's MockTransport, a shared pool) belongs to the caller,
        # so only a client made here is closed here.
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            headers={"User-Agent": "blobpi-sync"},
        )

    async def __aenter__(self) -> Upstream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` until it succeeds, backing off on retryable failures."""
        for number in range(self.retries + 1):
            try:
                async with self.limit:
                    self.requests += 1
                    return await attempt()
            except (RetryLater, *RETRYABLE) as e:
                untrusted = _untrusted_certificate(e)
                if untrusted is not None:  # not worth a retry: the same certificate comes back
                    raise UpstreamUnavailable(
                        # the upstream, not the project: one cause, one line in the CLI
                        f"the TLS certificate of {self.where} is not trusted ({untrusted}): "
                        "behind a TLS-inspecting proxy, set BLOBPI_CA_BUNDLE to its CA "
                        "certificate (PEM), or install that CA in the system trust store"
                    ) from None
                if number == self.retries:
                    reason = str(e) or type(e).__name__
                    unreachable = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout))
                    raise (UpstreamUnreachable if unreachable else UpstreamUnavailable)(
                        f"{what} failed {self.retries + 1} times ({reason[:200]}): check "
                        f"that {self.where} is reachable, then rerun"
                    ) from None
                delay = self.backoff * 2**number
                if isinstance(e, RetryLater) and e.after is not None:
                    delay = max(delay, e.after)  # the server knows when it will be back
                await self._sleep(min(delay, MAX_DELAY))
        raise AssertionError("unreachable")

    @staticmethod
    def check(response: httpx.Response) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryLater(
                f"HTTP {response.status_code}", retry_after(response.headers.get("retry-after"))
            )

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
            files, serial, status = _parse_page(response, name)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} is malformed ({type(e).__name__}: "
                f"{str(e)[:120]}): the upstream must serve PEP 691 JSON or PEP 503 HTML"
            ) from None
        return UpstreamProject(tuple(files), response.headers.get("etag"), serial, **status)

    async def api_version(self, name: str) -> str | None:
        """The PEP 691 ``api-version`` of the upstream's page of ``name`` when it answers
        with PEP 691 JSON, None when it answers with HTML only (for ``blobpi check``)."""
        url = f"{self.base_url}{name}/"

        async def _get() -> httpx.Response:
            response = await self._client.get(url, headers={"Accept": _JSON})
            self.check(response)
            return response

        response = await self.retrying(f"reading the upstream page of {name!r}", _get)
        if response.status_code != 200:
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} answered HTTP {response.status_code}: check "
                f"{self.where} and its credentials"
            )
        if response.headers.get("content-type", "").split(";")[0].strip() != _JSON:
            return None
        try:
            return str(json.loads(response.content)["meta"]["api-version"])
        except (ValueError, KeyError, TypeError):
            return None

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
