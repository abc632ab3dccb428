"""The page fast path: a fresh cached page answered with a dict lookup and a header check.

``GET``/``HEAD`` of ``/simple/`` or ``/simple/<canonical name>/`` without a query string,
whose page is in the ``PageCache`` and younger than ``BLOBPI_PAGE_TTL``, is answered here
from headers built once per page version and format (``prepare``), with the gzip body the
cache compressed once. Everything else (a stale or missing page, ``?format=``, a
non-canonical name, an Accept nothing matches) falls through to the routes, which answer it
the same way and refill the cache. It sits inside ``AuthMiddleware``, so access control and
the metrics see every request; ``page_headers`` is shared with the routes, so both paths
send the same representation headers (RFC 9110 8.8.3 ETags, ``Vary``, ``Cache-Control``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from packaging.utils import NormalizedName
from starlette.types import ASGIApp, Receive, Scope, Send

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.http import accepts_gzip, etag_matches
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.negotiate import Format, select_format
from blobpi.mirror.core.render import index_html_from_json, project_html_from_json
from blobpi.mirror.core.settings import ServerSettings
from blobpi.mirror.server.cache import CachedPage, PageCache

__all__ = [
    "CHUNK",
    "FastPages",
    "PreparedPage",
    "derivation",
    "media_type",
    "page_headers",
    "prepare",
]

# A big body goes to the server in pieces: granian spent half its CPU on an 18 MB page sent
# as one message, and answered 4x the requests/s with 256 KiB pieces (README, Performance).
CHUNK = 256 * 1024
_MEMO_MAX = 1024  # distinct Accept / Accept-Encoding / path values remembered; then computed
_PREPARED_MAX = 20_000
_NOT_A_PAGE = object()
_Target = tuple[NormalizedName | None, str]  # a project (None: the root) and its record's blob


def page_headers(
    page: CachedPage, fmt: Format, gzipped: bool, server: ServerSettings
) -> dict[str, str]:
    """The headers every answer for this representation carries, ``304`` included.

    A strong ETag names one representation, so the format and the encoding are part of it.
    Clients may keep a page as long as the server does (a new release or a yank reaches
    them within ``BLOBPI_PAGE_TTL``); shared caches keep nothing that needed a token.
    """
    max_age = f"max-age={int(server.page_ttl)}"
    return {
        "ETag": f'{page.etag[:-1]}-{fmt.name.lower()}{"-gz" if gzipped else ""}"',
        "Vary": "Accept, Accept-Encoding",
        "Cache-Control": max_age if server.allows_anonymous_read else f"private, {max_age}",
    }


def derivation(name: NormalizedName | None, fmt: Format) -> Callable[[bytes], bytes] | None:
    """How a page in ``fmt`` is made from the project's record (its JSON page): the HTML is
    rendered from the very JSON version served, so the two formats can never disagree."""
    if fmt.is_json:
        return None
    return project_html_from_json if name is not None else index_html_from_json


def media_type(fmt: Format) -> str:
    return fmt.value if fmt.is_json else f"{fmt.value}; charset=utf-8"


@dataclasses.dataclass(frozen=True, slots=True)
class _Variant:
    etag: str
    chunks: tuple[bytes, ...]  # the body in pieces of at most CHUNK bytes
    ok: list[tuple[bytes, bytes]]  # 200, for GET and HEAD alike (Content-Length of the body)
    not_modified: list[tuple[bytes, bytes]]


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedPage:
    """One page version in one format, ready to send: identity and gzip."""

    page: CachedPage
    identity: _Variant
    gzip: _Variant


def _encode(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def prepare(page: CachedPage, fmt: Format, server: ServerSettings) -> PreparedPage:
    """Build the raw ASGI headers of both encodings once, when a page version is first sent."""

    def variant(gzipped: bool) -> _Variant:
        common = page_headers(page, fmt, gzipped, server)
        body = page.gzipped if gzipped else page.body
        ok = {
            **common,
            **({"Content-Encoding": "gzip"} if gzipped else {}),
            "Content-Type": media_type(fmt),
            "Content-Length": str(len(body)),
        }
        chunks = tuple(body[i : i + CHUNK] for i in range(0, len(body), CHUNK)) or (b"",)
        return _Variant(common["ETag"], chunks, _encode(ok), _encode(common))

    return PreparedPage(page, variant(False), variant(True))


class FastPages:
    """Pure ASGI middleware; reads ``app.state.pages`` and ``app.state.settings``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._formats: dict[bytes, Format | None] = {}
        self._gzip: dict[bytes, bool] = {}
        self._paths: dict[str, _Target] = {}  # URL path -> (page name or None, record blob)
        self._prepared: dict[tuple[str, Format], PreparedPage] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (
            self._lookup(scope)
            if scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and not scope["query_string"]
            else None
        )
        if found is None:
            await self.app(scope, receive, send)
            return
        variant, not_modified = found
        if not_modified:
            start = {"type": "http.response.start", "status": 304, "headers": variant.not_modified}
            await send(start)
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": variant.ok})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        last = len(variant.chunks) - 1
        for i, chunk in enumerate(variant.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < last})

    def _lookup(self, scope: Scope) -> tuple[_Variant, bool] | None:
        """The variant to send and whether it is a ``304``, or None to let the routes answer."""
        target = self._paths.get(scope["path"])
        if target is None:
            target = self._remember_path(scope["path"])
            if target is None:
                return None
        name, blob = target
        accept = encoding = if_none_match = None
        for key, value in scope["headers"]:
            if key == b"accept":
                accept = value
            elif key == b"accept-encoding":
                encoding = value
            elif key == b"if-none-match":
                if_none_match = value
        fmt = self._format(accept or b"")
        if fmt is None:
            return None
        state = scope["app"].state
        pages: PageCache | None = getattr(state, "pages", None)
        if pages is None:
            return None
        if name is None and getattr(scope.get("blobpi.token"), "project", None):
            return None  # a project's token sees a project list rendered for it (routes)
        page = pages.fresh(blob, derive=derivation(name, fmt))
        if page is None:
            return None
        prepared = self._prepared.get((blob, fmt))
        if prepared is None or prepared.page is not page:
            if len(self._prepared) >= _PREPARED_MAX:
                self._prepared.clear()
            prepared = prepare(page, fmt, state.settings.server)
            self._prepared[(blob, fmt)] = prepared
        variant = prepared.gzip if self._gzipped(encoding or b"") else prepared.identity
        not_modified = if_none_match is not None and etag_matches(
            if_none_match.decode("latin-1"), variant.etag
        )
        return variant, not_modified

    def _remember_path(self, path: str) -> _Target | None:
        """The page a URL path names (None for the root) and its record's blob, or None if
        it is not a page this path may answer; remembered, as the same paths come again."""
        name: NormalizedName | None
        if path == "/simple/":
            name = None
        elif path.startswith("/simple/") and path.endswith("/") and path.count("/") == 3:
            raw = path[len("/simple/") : -1]
            try:
                name = project_name(raw)
            except InvalidName:
                return None
            if name != raw:  # a non-canonical name is redirected by the route
                return None
        else:
            return None
        target = (name, page_path(name, Format.JSON))
        if len(self._paths) < _MEMO_MAX * 64:
            self._paths[path] = target
        return target

    def _format(self, accept: bytes) -> Format | None:
        fmt = self._formats.get(accept, _NOT_A_PAGE)
        if fmt is _NOT_A_PAGE:
            fmt = select_format(accept.decode("latin-1") or None, None)
            if len(self._formats) < _MEMO_MAX:
                self._formats[accept] = fmt
        return fmt  # type: ignore[return-value]

    def _gzipped(self, encoding: bytes) -> bool:
        gzipped = self._gzip.get(encoding)
        if gzipped is None:
            gzipped = accepts_gzip(encoding.decode("latin-1") or None)
            if len(self._gzip) < _MEMO_MAX:
                self._gzip[encoding] = gzipped
        return gzipped
