"""The status pages for people (``/`` and ``/project/<name>/``), served from the page cache.

The overview needs every project's page; it reads them through ``PageCache`` (memory, or a
conditional read that moves no body) and keeps the rows for ``SUMMARY_TTL`` seconds, or until
the root page changes, so a busy ``/`` costs at most one conditional read of the root page
per page TTL. Rendering is pure (``mirror/core/statuspage.py``); the sync history comes from
``layout.history_path``.
"""

from __future__ import annotations

import json
import time

import anyio
from packaging.utils import NormalizedName
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from blobpi.mirror.core.errors import BlobNotFound, InvalidName, ProjectNotFound
from blobpi.mirror.core.history import SyncRun, parse_runs
from blobpi.mirror.core.layout import history_path, page_path
from blobpi.mirror.core.model import ProjectList, ProjectPage
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.statuspage import ProjectRow, render_overview, render_project, row_of
from blobpi.mirror.server.cache import PageCache

__all__ = ["SUMMARY_TTL", "Summary", "overview", "project_status", "read_history"]

SUMMARY_TTL = 30.0  # seconds the overview's rows are reused while the root page is unchanged
_READERS = 16  # project pages read at once when the rows are rebuilt
_HTML = "text/html; charset=utf-8"


class Summary:
    """The overview's rows, rebuilt when the root page changes or after ``SUMMARY_TTL``."""

    def __init__(self, pages: PageCache, ttl: float = SUMMARY_TTL) -> None:
        self._pages, self._ttl = pages, ttl
        self._rows: list[ProjectRow] = []
        self._key: tuple[str, float] | None = None
        self._lock = anyio.Lock()

    async def rows(self) -> list[ProjectRow]:
        try:
            root = await self._pages.get(page_path(None, Format.JSON))
        except BlobNotFound:
            return []
        if self._key and self._key[0] == root.etag and time.monotonic() - self._key[1] < self._ttl:
            return self._rows
        async with self._lock:
            if self._key and self._key[0] == root.etag:
                if time.monotonic() - self._key[1] < self._ttl:
                    return self._rows
            names = ProjectList.from_json(json.loads(root.body)).projects
            found: dict[str, ProjectRow] = {}
            limit = anyio.CapacityLimiter(_READERS)

            async def _one(name: NormalizedName) -> None:
                async with limit:
                    page = await _project(self._pages, name)
                if page is not None:
                    found[name] = row_of(page)

            async with anyio.create_task_group() as group:
                for name in names:
                    group.start_soon(_one, name)
            self._rows = [found[n] for n in names if n in found]
            self._key = (root.etag, time.monotonic())
            return self._rows


async def _project(pages: PageCache, name: NormalizedName) -> ProjectPage | None:
    try:
        page = await pages.get(page_path(name, Format.JSON))
    except BlobNotFound:  # listed, but removed since: the next root page drops it
        return None
    return ProjectPage.from_json(json.loads(page.body))


async def read_history(pages: PageCache) -> list[SyncRun]:
    try:
        blob = await pages.get(history_path())
    except BlobNotFound:
        return []
    return parse_runs(json.loads(blob.body))


def _index_url(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/simple/"


def _response(request: Request, body: bytes) -> Response:
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=_HTML)
    return Response(body, headers=headers, media_type=_HTML)


async def overview(request: Request) -> Response:
    pages: PageCache = request.app.state.pages
    summary: Summary = request.app.state.summary
    query = request.query_params.get("q", "")[:100]
    rows = await summary.rows()
    runs = await read_history(pages)
    return _response(request, render_overview(rows, runs, _index_url(request), query))


async def project_status(request: Request) -> Response:
    raw = request.path_params["project"]
    try:
        name = project_name(raw)
    except InvalidName:
        raise ProjectNotFound("no such project: names use letters, digits and '.-_'") from None
    if name != raw:
        return RedirectResponse(str(request.url.replace(path=f"/project/{name}/")), 301)
    page = await _project(request.app.state.pages, name)
    if page is None:
        raise ProjectNotFound(f"no project {name!r} in this index")
    return _response(request, render_project(page, _index_url(request)))
