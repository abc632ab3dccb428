"""The stored pages: read a project's record, and change it with compare-and-swap.

A project's PEP 691 JSON page *is* its record (``ProjectPage.from_json`` reads it back), so
there is no database to keep in step. Every change is a compare-and-swap of the JSON
(``store.cas``: ``If-Match`` on the ETag that was read, or ``If-None-Match: *`` for a new
project): that write is the commit point, and a writer that loses the race re-reads and
retries, so concurrent uploads and sync shards never lose each other's files. Only then is
the HTML twin brought in step (``cas.keep_derived``: rendered from the record as stored, and
tagged with its digest), so a losing writer's HTML is never written, and the last HTML
write is always of the newest record. A writer killed between the two leaves a twin that
names an older record's ETag; every sync run mends those (``mend_twins``: one listing, and a
write only for a stale twin). The server does not trust the twin either: it serves HTML
rendered from the JSON it serves (``render.project_html_from_json``). Where the pages live:
``layout.page_path``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from packaging.utils import NormalizedName

from blobpi.mirror.core.layout import page_of, page_path
from blobpi.mirror.core.model import ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.render import (
    index_html_from_json,
    project_html_from_json,
    render_index_json,
    render_project_json,
)
from blobpi.mirror.store.cas import Codec, compare_and_swap, is_stale, keep_derived, read_with_etag
from blobpi.mirror.store.protocol import BlobInfo, BlobStore

__all__ = [
    "mend_twins",
    "read_project",
    "read_projects",
    "update_project",
    "update_root",
]

CONTENT_TYPES = {
    Format.JSON: Format.JSON.value,
    Format.HTML: "text/html; charset=utf-8",
}
_HTML = CONTENT_TYPES[Format.HTML]


def _load_project(data: bytes | None) -> ProjectPage | None:
    return ProjectPage.from_json(json.loads(data)) if data is not None else None


def _dump_project(page: ProjectPage | None) -> bytes | None:
    return render_project_json(page) if page is not None else None


def _load_root(data: bytes | None) -> ProjectList:
    return ProjectList.from_json(json.loads(data)) if data is not None else ProjectList()


_PROJECT: Codec[ProjectPage | None] = Codec(
    _load_project, _dump_project, CONTENT_TYPES[Format.JSON]
)
_ROOT: Codec[ProjectList] = Codec(_load_root, render_index_json, CONTENT_TYPES[Format.JSON])


async def read_project(store: BlobStore, name: NormalizedName) -> ProjectPage | None:
    page, _ = await read_with_etag(store, page_path(name, Format.JSON), _PROJECT)
    return page


async def read_projects(store: BlobStore) -> ProjectList:
    projects, _ = await read_with_etag(store, page_path(None, Format.JSON), _ROOT)
    return projects


async def update_project(
    store: BlobStore,
    name: NormalizedName,
    change: Callable[[ProjectPage | None], ProjectPage | None],
) -> ProjectPage | None:
    """Apply ``change`` to the project's record and store both pages, retrying on a race.

    ``change`` gets the current page (None if there is none) and returns the new one, or
    None to remove the project's pages. It must be pure: it may run more than once.
    """
    _, after = await compare_and_swap(store, page_path(name, Format.JSON), _PROJECT, change)
    await _keep_twin(store, name)
    return after


async def update_root(store: BlobStore, change: Callable[[ProjectList], ProjectList]) -> None:
    """Apply ``change`` to the project list, as ``update_project`` does for one project."""
    record = page_path(None, Format.JSON)
    await compare_and_swap(store, record, _ROOT, change)
    await _keep_twin(store, None)


async def mend_twins(store: BlobStore) -> list[str]:
    """Bring every stale HTML twin in step with its record (or remove it with its record);
    returns the twins it looked at again. One listing finds them; fresh twins cost nothing."""
    found: dict[NormalizedName | None, dict[Format, BlobInfo]] = {}
    async for info in store.list("simple/"):
        if (page := page_of(info.path)) is not None:
            found.setdefault(page[0], {})[page[1]] = info
    stale = [
        name
        for name, pages in found.items()
        if is_stale(pages.get(Format.JSON), pages.get(Format.HTML))
    ]
    for name in stale:
        await _keep_twin(store, name)
    return [page_path(name, Format.HTML) for name in stale]


async def _keep_twin(store: BlobStore, name: NormalizedName | None) -> None:
    derive = project_html_from_json if name is not None else index_html_from_json
    await keep_derived(
        store,
        page_path(name, Format.JSON),
        page_path(name, Format.HTML),
        derive,
        content_type=_HTML,
    )
