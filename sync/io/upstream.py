"""The upstream index: the only HTTP client of the sync worker (httpx).

Speaks PEP 691 JSON (and PEP 503 HTML when that is all an index offers), with conditional
requests per project (``ETag`` / ``If-None-Match``; ``X-PyPI-Last-Serial`` or PEP 691
``meta._last-serial`` is recorded when present), bounded concurrency, and retries with
exponential backoff on 5xx, 429, timeouts and broken connections. Expect imperfect upstreams:
some send no ETag, no serial and no PEP 658 ``core-metadata`` keys, though ``.metadata`` files
may exist beside the wheels. A PEP 792 ``project-status`` (JSON) or ``pypi:project-status``
meta tag (HTML) is passed on with its reason. Errors: a 404 project is ``ProjectNotFound``;
anything else that fails is ``UpstreamUnavailable``, with the URL's credentials redacted:
``ForeignOrigin`` for a URL or redirect off the allowed origins (checked before each request,
redirects followed here hop by hop), ``UpstreamTooLarge`` for a body over its limit (counted
on decoded bytes while streaming). A body that drips slower than ``MIN_RATE`` is a timeout, retried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import email.utils
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import anyio
import httpx

from blobpi.mirror.core.errors import (
    ForeignOrigin,
    ProjectNotFound,
    UpstreamTooLarge,
    UpstreamUnavailable,
    UpstreamUnreachable,
)
from blobpi.mirror.core.model import File, Status
from blobpi.mirror.core.origins import Origins, origin_of
from blobpi.mirror.store.protocol import CHUNK_SIZE, redact_url
from blobpi.sync.core.simple import parse_page

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
# A body that fails to decode (a cut gzip stream) is retried like a cut connection.
RETRYABLE = (httpx.TransportError, httpx.TimeoutException, httpx.DecodingError)
MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 8 * 1024 * 1024
MAX_REDIRECTS = 5
MIN_RATE = 16 * 1024  # bytes/s: a body slower than this after ``timeout`` seconds is a timeout
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


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: bytes
    url: str  # after redirects: relative links resolve against it
    headers: httpx.Headers


class Upstream:
    """A PEP 691 index. Use as an async context manager.

    Every request goes through ``_open``: the URL and each redirect hop must be on an allowed
    origin (``origins``: the upstream's own unless more are given), and every body is read
    in chunks against its limit, counted on decoded bytes, so a gzip bomb stops at the limit.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        concurrency: int = 8,
        backoff: float = 0.5,
        origins: Origins | None = None,
        client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.origins = origins or Origins.of(base_url)
        # The user info leaves the URL for an auth header sent to the upstream's own origin
        # only: no URL the sync builds, logs or reports holds the secret (httpx logs URLs).
        self.base_url, self._auth = _split_credentials(base_url.rstrip("/") + "/")
        self._auth_origin = origin_of(self.base_url)
        self.where = redact_url(self.base_url)
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self._sleep = sleep  # a seam: tests record the waits instead of sleeping
        self.limit = anyio.CapacityLimiter(concurrency)
        self.requests = 0  # every request sent, for the report and the no-op test
        # A client passed in (a test's MockTransport, a shared pool) belongs to the caller,
        # so only a client made here is closed here.
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), headers={"User-Agent": "blobpi-sync"}
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
                    reason = self.origins.scrub(str(e) or type(e).__name__)
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

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[Callable[[], None]]:
        """One of the ``concurrency`` request slots, held while a request is on the wire. The
        function it yields gives the slot back early: a download's body is whole (its
        connection back in the pool) before the store flushes it to disk, and the next
        request need not wait for that fsync."""
        token = object()
        await self.limit.acquire_on_behalf_of(token)
        held = [token]

        def release() -> None:
            if held:
                self.limit.release_on_behalf_of(held.pop())

        try:
            yield release
        finally:
            release()

    @contextlib.asynccontextmanager
    async def _open(
        self, url: str, what: str, headers: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """The streamed response to GET ``url``, redirects followed here, each hop checked."""
        for _ in range(MAX_REDIRECTS + 1):
            self.origins.check(url, what)
            try:
                request = self._client.build_request("GET", url, headers=headers)
            except httpx.InvalidURL as e:
                raise ForeignOrigin(f"{what}: the URL is invalid ({e}): not fetched") from None
            auth = self._auth if origin_of(url) == self._auth_origin else None
            response = await self._client.send(
                request, stream=True, follow_redirects=False, auth=auth
            )
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                try:
                    yield response
                finally:
                    await response.aclose()
                return
            await response.aclose()
            url = urljoin(str(response.url), location)
        raise UpstreamUnavailable(
            f"{what}: more than {MAX_REDIRECTS} redirects (a loop?): check the upstream"
        )

    async def _get(
        self, url: str, what: str, limit: int, headers: dict[str, str] | None = None
    ) -> _Answer:
        """One GET, retried; its whole body, refused the moment it passes ``limit``."""

        async def _attempt() -> _Answer:
            async with self._slot(), self._open(url, what, headers) as response:
                self.check(response)
                body = bytearray()
                if response.status_code == 200:
                    chunks = response.aiter_bytes()  # decoded, as they arrive
                    async for chunk in _paced(chunks, limit, self.timeout, what):
                        body += chunk
                return _Answer(
                    response.status_code, bytes(body), str(response.url), response.headers
                )

        return await self.retrying(what, _attempt)

    async def project(self, name: str, etag: str | None = None) -> UpstreamProject | None:
        """The project's files, or None when ``etag`` still matches (HTTP 304)."""
        headers = {"Accept": _ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        what = f"reading the upstream page of {name!r}"
        answer = await self._get(f"{self.base_url}{name}/", what, MAX_PAGE_BYTES, headers)
        if answer.status == 304:
            return None
        if answer.status == 404:
            raise ProjectNotFound(
                f"the upstream {self.where} has no project {name!r}: check the spelling in "
                "the allow-list"
            )
        if answer.status != 200:
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} answered HTTP {answer.status}: check "
                f"{self.where} and its credentials"
            )
        try:
            files, serial, status = parse_page(answer.body, answer.url, answer.headers)
        except (ValueError, LookupError, TypeError, AttributeError, RecursionError) as e:
            reason = self.origins.scrub(str(e))[:120]
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} is malformed ({type(e).__name__}: "
                f"{reason}): the upstream must serve PEP 691 JSON or PEP 503 HTML"
            ) from None
        return UpstreamProject(tuple(files), answer.headers.get("etag"), serial, **status)

    async def api_version(self, name: str) -> str | None:
        """The PEP 691 ``api-version`` of the upstream's page of ``name`` when it answers
        with PEP 691 JSON, None when it answers with HTML only (for ``blobpi check``)."""
        what = f"reading the upstream page of {name!r}"
        answer = await self._get(f"{self.base_url}{name}/", what, MAX_PAGE_BYTES, {"Accept": _JSON})
        if answer.status != 200:
            raise UpstreamUnavailable(
                f"the upstream page of {name!r} answered HTTP {answer.status}: check "
                f"{self.where} and its credentials"
            )
        if answer.headers.get("content-type", "").split(";")[0].strip() != _JSON:
            return None
        try:
            return str(json.loads(answer.body)["meta"]["api-version"])
        except (ValueError, KeyError, TypeError):
            return None

    async def small(self, url: str) -> bytes | None:
        """A small file (``.metadata``, provenance), or None when the upstream has none."""
        what = f"downloading {_shown(url)}"
        answer = await self._get(url, what, MAX_METADATA_BYTES)
        if answer.status in (404, 403, 410):
            return None
        if answer.status != 200:
            raise UpstreamUnavailable(f"{what}: HTTP {answer.status}: check the upstream")
        return answer.body

    @contextlib.asynccontextmanager
    async def stream(
        self, url: str, size: int | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Stream one download in chunks; the caller retries (and counts) the whole transfer
        through ``retrying``. More bytes than the page's ``size`` (PEP 700) stop it."""
        what = f"downloading {_shown(url)}"
        async with self._slot() as release, self._open(url, what) as response:
            self.check(response)
            if response.status_code != 200:
                raise UpstreamUnavailable(
                    f"{what}: HTTP {response.status_code}: relock if the file is gone, else "
                    "check the upstream"
                )
            yield _paced(response.aiter_bytes(), size, self.timeout, what, release)


async def _paced(
    chunks: AsyncIterator[bytes],
    limit: int | None,
    timeout: float,
    what: str,
    done: Callable[[], None] = lambda: None,
) -> AsyncIterator[bytes]:
    """``chunks`` as they come off the network (decoded), in pieces of ``CHUNK_SIZE``; stopped
    the moment they pass ``limit`` bytes, or when they come slower than ``MIN_RATE`` once
    ``timeout`` has passed: a per-read timeout alone never ends a body that drips a byte a
    second. Checked on every network read, not per 4 MiB piece, so a drip is caught in time."""
    total, started = 0, time.monotonic()
    # Pieces are joined once per CHUNK_SIZE: growing a bytearray and copying it out cost
    # seven times as much (profiled: the event loop's largest own cost on a 1 GiB file).
    pieces: list[bytes] = []
    pending = 0
    async for chunk in chunks:
        total += len(chunk)
        if limit is not None and total > limit:
            raise UpstreamTooLarge(
                f"{what}: the answer is over {limit:,} bytes (decoded): not read further"
            )
        elapsed = time.monotonic() - started
        if elapsed > timeout and total < MIN_RATE * elapsed:
            raise httpx.ReadTimeout(f"the answer came at {total / elapsed:,.0f} bytes/s")
        pieces.append(chunk)
        pending += len(chunk)
        if pending >= CHUNK_SIZE:
            yield b"".join(pieces)
            pieces.clear()
            pending = 0
    done()  # the body is read: what is left is the consumer's
    if pieces:
        yield b"".join(pieces)


def _split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """``url`` without its user info, and that user info as basic auth (RFC 3986 3.2.1).

    >>> _split_credentials("https://u:p%40ss@idx.example/simple/")[0]
    'https://idx.example/simple/'
    """
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, httpx.BasicAuth(unquote(user), unquote(password))


def _shown(url: str) -> str:
    """A URL as messages show it: no user info, no query (a SAS), never a parse error."""
    try:
        return redact_url(url)
    except ValueError:
        return repr(url.split("@")[-1].split("?")[0][:120])
