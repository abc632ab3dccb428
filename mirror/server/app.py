"""The index server: the container's pre-rendered pages and files over HTTP.

Routes: ``/simple/`` and ``/simple/<project>/`` (PEP 503 HTML or PEP 691 JSON by content
negotiation, ``Vary: Accept``, non-canonical names redirected), ``/packages/...`` (files,
PEP 658 ``.metadata``, PEP 740 ``.provenance``: streamed, ``Range``, ``ETag``, or redirected
to a read SAS on the blob, ``redirects``), the probes
``/health/live`` (the process answers) and ``/health/ready`` (the store answers; ``/health``
is its old name), ``/metrics`` (``metrics``), and the status pages for people, ``/`` and
``/project/<name>/`` (``status``); ``POST /`` is the upload API (``upload_api``),
``/osv/v1/...`` OSV's query API over the container's advisories (``osv_api``), and
``auth`` guards everything but the probes. Errors are raised typed and answered by the one
table in ``responses``. Pages come from ``PageCache``; nothing is rendered
or listed per request. HTML is served as rendered from the JSON record the cache holds
(``_page``), never from a separately stored blob, so the formats cannot disagree. Start it with
``blobpi serve``, which adds the header timeout and the trusted proxies (``timeouts``);
``uvicorn --factory blobpi.mirror.server.app:create_app`` keeps uvicorn's own defaults.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping

import anyio
from packaging.utils import NormalizedName
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from blobpi.mirror.core.errors import (
    BlobNotFound,
    InvalidName,
    MirrorError,
    NotAcceptable,
    ProjectNotFound,
    StorageUnavailable,
)
from blobpi.mirror.core.http import Unsatisfiable, accepts_gzip, etag_matches, parse_range
from blobpi.mirror.core.layout import history_path, package_path, page_path
from blobpi.mirror.core.model import ProjectList
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.negotiate import Format, select_format
from blobpi.mirror.core.render import (
    render_index_html,
    render_index_json,
)
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.tokens import TokenFile
from blobpi.mirror.server.accounting import RequestAccounting
from blobpi.mirror.server.auth import AuthMiddleware, TokenCache, visible_projects
from blobpi.mirror.server.cache import CachedPage, HeadCache, PageCache, SmallFiles
from blobpi.mirror.server.fastpath import FastPages, derivation, media_type, page_headers
from blobpi.mirror.server.metrics import CONTENT_TYPE, Metrics
from blobpi.mirror.server.osv_api import AdvisoryCache, osv_routes
from blobpi.mirror.server.redirects import ReadUrls, check_downloads, redirect_response
from blobpi.mirror.server.responses import exception_handlers
from blobpi.mirror.server.status import Summary, overview, project_status
from blobpi.mirror.server.telemetry import tracing_middleware
from blobpi.mirror.server.timeouts import BodyTimeoutMiddleware
from blobpi.mirror.server.upload_api import upload
from blobpi.mirror.server.zerocopy import PathSendResponse, supports_pathsend
from blobpi.mirror.store.protocol import BlobStore, open_store

__all__ = ["create_app"]

_FILE_MAX_AGE = "max-age=31536000, immutable"  # files never change once written
_EMPTY_ROOT = {
    Format.JSON: CachedPage.of(render_index_json(ProjectList())),
    Format.HTML: CachedPage.of(render_index_html(ProjectList())),
}
# What each escape would smuggle past the path checks, named in the refusal.
_ENCODED = {b"%2f": "'/' (%2F)", b"%5c": "'\\' (%5C)", b"%00": "NUL (%00)", b"%2e": "'.' (%2E)"}
_READY_TIMEOUT = 3.0  # seconds: a probe that hangs is as bad as one that fails


def _state(request: Request) -> tuple[BlobStore, PageCache]:
    return request.app.state.store, request.app.state.pages


def _page_format(request: Request) -> Format:
    format_param = request.query_params.get("format")
    if format_param is not None:  # an unencoded '+' in a query string arrives as a space
        format_param = format_param.replace(" ", "+")
    fmt = select_format(request.headers.get("accept"), format_param)
    if fmt is None:
        raise NotAcceptable(
            "none of the formats in Accept is served: ask for "
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html "
            "or text/html",
        )
    return fmt


def _cache_control(request: Request, max_age: str) -> str:
    """Shared caches keep nothing that needed a token."""
    settings: Settings = request.app.state.settings
    return max_age if settings.server.allows_anonymous_read else f"private, {max_age}"


def _page_response(request: Request, page: CachedPage, fmt: Format) -> Response:
    """The same answer as the fast path's (``fastpath``), for what it leaves to the routes."""
    settings: Settings = request.app.state.settings
    gzipped = accepts_gzip(request.headers.get("accept-encoding"))
    headers = page_headers(page, fmt, gzipped, settings.server)
    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    body = page.gzipped if gzipped else page.body
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=media_type(fmt))
    return Response(body, headers=headers, media_type=media_type(fmt))


async def _page(pages: PageCache, name: NormalizedName | None, fmt: Format) -> CachedPage:
    """The page from the project's record (its JSON); HTML is derived from that version."""
    return await pages.get(page_path(name, Format.JSON), derive=derivation(name, fmt))


async def _projects(request: Request) -> ProjectList:
    """The project list the caller may see (a project's token sees only its project)."""
    _, pages = _state(request)
    try:  # from the page cache, like every other page: no store read per request
        root = await pages.get(page_path(None, Format.JSON))
        projects = ProjectList.from_json(json.loads(root.body))
    except BlobNotFound:
        projects = ProjectList()
    return ProjectList(visible_projects(request.scope.get("blobpi.token"), projects.projects))


async def root_page(request: Request) -> Response:
    fmt = _page_format(request)
    token = request.scope.get("blobpi.token")
    if token is not None and token.project:  # rendered for it: the shared page lists all
        projects = await _projects(request)
        render = render_index_json if fmt.is_json else render_index_html
        return _page_response(request, CachedPage.of(render(projects)), fmt)
    _, pages = _state(request)
    try:
        page = await _page(pages, None, fmt)
    except BlobNotFound:  # an index with nothing in it yet is still an index
        page = _EMPTY_ROOT[Format.JSON if fmt.is_json else Format.HTML]
    return _page_response(request, page, fmt)


async def project_page(request: Request) -> Response:
    raw = request.path_params["project"]
    try:
        name = project_name(raw)
    except InvalidName:  # the name is not echoed: it is arbitrary user input
        raise ProjectNotFound(
            "no such project: names use letters, digits and '.-_' (PEP 508)"
        ) from None
    if name != raw:  # PEP 503: one canonical URL per project
        url = request.url.replace(path=f"/simple/{name}/")
        return RedirectResponse(str(url), status_code=301)
    fmt = _page_format(request)
    _, pages = _state(request)
    try:
        page = await _page(pages, name, fmt)
    except BlobNotFound:
        raise ProjectNotFound(f"no project {name!r} in this index") from None
    return _page_response(request, page, fmt)


def _file_path(request: Request) -> str:
    raw_path = request.scope.get("raw_path", b"").lower()
    found = next((what for code, what in _ENCODED.items() if code in raw_path), None)
    if found:
        raise InvalidName(
            f"package paths may not hold an encoded {found}: request the file as its "
            "project page links it"
        )
    return package_path(request.path_params["path"])


async def package_file(request: Request) -> Response:
    path = _file_path(request)
    store, _ = _state(request)
    head = await request.app.state.heads.head(path)
    etag = f'"{head.metadata["sha256"]}"' if "sha256" in head.metadata else head.etag
    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Cache-Control": _cache_control(request, _FILE_MAX_AGE),
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    urls: ReadUrls | None = request.app.state.read_urls
    signed = await urls.url(path) if urls is not None else None
    if signed is not None:  # the blob exists (its head): the blob service sends the bytes
        settings: Settings = request.app.state.settings
        return redirect_response(*signed, anonymous=settings.server.allows_anonymous_read)
    status, start, length = 200, 0, head.size
    try:
        byte_range = parse_range(request.headers.get("range"), head.size)
    except Unsatisfiable:
        headers["Content-Range"] = f"bytes */{head.size}"
        return Response(status_code=416, headers=headers)
    if byte_range is not None and request.headers.get("if-range", etag) == etag:
        start, end = byte_range
        status, length = 206, end - start + 1
        headers["Content-Range"] = f"bytes {start}-{end}/{head.size}"
    headers["Content-Length"] = str(length)
    media_type = "application/octet-stream"
    if request.method == "HEAD" or length == 0:
        return Response(status_code=status, headers=headers, media_type=media_type)
    if head.size <= SmallFiles.LIMIT:  # .metadata and small wheels: one message, from memory
        body = (await request.app.state.small_files.body(head))[start : start + length]
        headers["Content-Length"] = str(len(body))
        return Response(body, status_code=status, headers=headers, media_type=media_type)
    local = store.local_file(path) if status == 200 else None
    if local is not None and supports_pathsend(request.scope):
        return PathSendResponse(local, headers=headers, media_type=media_type)
    _, chunks = await store.open(path, start=start, length=length)
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type)


async def live(request: Request) -> Response:
    """Liveness: the process answers. It never touches the store, so a storage blip takes
    replicas out of rotation (readiness) instead of restarting them."""
    return PlainTextResponse("ok\n")


async def ready(request: Request) -> Response:
    """Readiness: the store answers (an empty index is ready), within ``_READY_TIMEOUT``."""
    store, _ = _state(request)
    try:
        with anyio.fail_after(_READY_TIMEOUT):
            try:
                await store.head(page_path(None, Format.JSON))
            except BlobNotFound:  # an empty index is ready; a store that has gone is not
                await store.ensure(create=False)
    except (MirrorError, TimeoutError):
        return PlainTextResponse("storage unavailable\n", status_code=503)
    return PlainTextResponse("ok\n")


async def metrics(request: Request) -> Response:
    counters: Metrics = request.app.state.metrics
    _, pages = _state(request)
    try:  # the sync's figures, from the record the sync job keeps in state/
        counters.load_history((await pages.get(history_path())).body)
    except BlobNotFound:
        counters.load_history(None)
    except StorageUnavailable:
        pass  # keep the last figures: the request counters are still worth answering
    return Response(counters.render(), media_type=CONTENT_TYPE)


def _proxy_headers(trusted: tuple[str, ...]) -> list[Middleware]:
    """uvicorn's proxy-headers middleware, as plain ASGI, so both server stacks trust the same
    proxies (granian has no such option); none unless the operator lists proxies."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted))] if trusted else []


def create_app(settings: Settings | None = None, store: BlobStore | None = None) -> Starlette:
    """The ASGI app; with no arguments (``uvicorn --factory``) it loads the settings from
    ``BLOBPI_*`` and ``blobpi.toml``."""
    if settings is None:
        from blobpi.mirror.settings import load_settings  # the edge, only for the factory

        settings = load_settings()
    the_store = store or open_store(settings.storage, settings.storage_connection_string)
    check_downloads(settings, the_store)
    counters = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[Mapping[str, object]]:
        app.state.store = the_store
        app.state.pages = PageCache(
            the_store, settings.server.page_ttl, on_lookup=counters.cache_result
        )
        app.state.heads = HeadCache(the_store, settings.server.page_ttl)
        app.state.small_files = SmallFiles(the_store)
        app.state.summary = Summary(app.state.pages)
        app.state.settings = settings
        tokens = TokenFile.open(the_store, settings.server.token_file)
        app.state.tokens = TokenCache(tokens, settings.server.page_ttl)
        app.state.advisories = AdvisoryCache(the_store, settings.server.page_ttl)
        app.state.read_urls = (
            ReadUrls(
                the_store, settings.storage_connection_string, settings.server.redirect_lifetime
            )
            if settings.server.downloads == "redirect"
            else None
        )
        try:
            yield {}
        finally:
            await tokens.close()
            if store is None:  # the app opened it, so the app closes it
                await the_store.close()

    methods = ["GET", "HEAD"]
    routes = [  # what installers ask for first: routing tries each route in turn
        Route("/packages/{path:path}", package_file, methods=methods),
        Route("/simple/{project}/", project_page, methods=methods),
        Route("/simple/", root_page, methods=methods),
        Route("/", overview, methods=methods),
        Route("/", upload, methods=["POST"]),  # the legacy upload API (twine, uv publish)
        Route("/project/{project}/", project_status, methods=methods),
        Route("/health", ready, methods=methods),  # the old name, kept for existing probes
        Route("/health/live", live, methods=methods),
        Route("/health/ready", ready, methods=methods),
        Route("/metrics", metrics, methods=methods),
        *osv_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers(),  # type: ignore[arg-type]
        # outermost first: refused requests get an id, a count and a log line too; fresh
        # pages never reach routing (FastPages), and never read a body (BodyTimeout)
        middleware=[
            # the client address from X-Forwarded-For, only when a listed proxy sent it
            *_proxy_headers(settings.server.trusted_proxies),
            Middleware(RequestAccounting, metrics=counters, access_log=settings.server.access_log),
            *tracing_middleware(settings.server.telemetry),  # [] unless configured
            Middleware(AuthMiddleware),
            Middleware(FastPages),
            Middleware(BodyTimeoutMiddleware, seconds=settings.server.body_timeout),
        ],
    )
    app.state.metrics = counters
    return app
