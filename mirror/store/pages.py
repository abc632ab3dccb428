"""The stored pages: read a project's record, and change it with compare-and-swap.

A project's PEP 691 JSON page *is* its record (``ProjectPage.from_json`` reads it back), so
there is no database to keep in step. Every change is a read-modify-write: render both
formats, write the HTML, then the JSON with ``If-Match`` on the ETag that was read (or
``If-None-Match: *`` for a new project). A writer that loses the race re-reads and retries,
and rewrites the HTML from the merged record, so concurrent uploads and sync shards never
lose each other's files. Blob layout: see DESIGN.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import (
    BlobExists,
    BlobNotFound,
    PreconditionFailed,
    StorageUnavailable,
)
from blobpi.mirror.core.model import ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.render import (
    render_index_html,
    render_index_json,
    render_project_html,
    render_project_json,
)
from blobpi.mirror.store.protocol import BlobStore

__all__ = [
    "page_path",
    "read_project",
    "read_projects",
    "update_project",
    "update_root",
]

_ATTEMPTS = 20
_SUFFIX = {Format.JSON: "index.v1_json", Format.HTML: "index.v1_html"}
CONTENT_TYPES = {
    Format.JSON: Format.JSON.value,
    Format.HTML: "text/html; charset=utf-8",
}


def page_path(project: NormalizedName | None, fmt: Format) -> str:
    """The blob of a page: ``simple/<project>/index.v1_json`` or the root's ``simple/...``.

    >>> page_path(None, Format.JSON)
    'simple/index.v1_json'
    """
    suffix = _SUFFIX[Format.JSON if fmt is Format.JSON else Format.HTML]
    return f"simple/{project}/{suffix}" if project else f"simple/{suffix}"


async def read_project(store: BlobStore, name: NormalizedName) -> ProjectPage | None:
    page, _ = await _read_project(store, name)
    return page


async def _read_project(
    store: BlobStore, name: NormalizedName
) -> tuple[ProjectPage | None, str | None]:
    try:
        blob = await store.get(page_path(name, Format.JSON))
    except BlobNotFound:
        return None, None
    assert blob is not None
    return ProjectPage.from_json(json.loads(blob.data)), blob.info.etag


async def read_projects(store: BlobStore) -> ProjectList:
    projects, _ = await _read_root(store)
    return projects


async def _read_root(store: BlobStore) -> tuple[ProjectList, str | None]:
    try:
        blob = await store.get(page_path(None, Format.JSON))
    except BlobNotFound:
        return ProjectList(), None
    assert blob is not None
    return ProjectList.from_json(json.loads(blob.data)), blob.info.etag


async def _swap(
    store: BlobStore,
    json_path: str,
    html_path: str,
    json_body: bytes,
    html_body: bytes,
    etag: str | None,
) -> bool:
    """Write one page in both formats; False when another writer got there first."""
    try:
        await store.put(html_path, html_body, content_type=CONTENT_TYPES[Format.HTML])
        await store.put(
            json_path,
            json_body,
            create_only=etag is None,
            if_match=etag,
            content_type=CONTENT_TYPES[Format.JSON],
        )
    except (PreconditionFailed, BlobExists):
        return False
    return True


async def update_project(
    store: BlobStore,
    name: NormalizedName,
    change: Callable[[ProjectPage | None], ProjectPage | None],
) -> ProjectPage | None:
    """Apply ``change`` to the project's record and store both pages, retrying on a race.

    ``change`` gets the current page (None if there is none) and returns the new one, or
    None to remove the project's pages. It must be pure: it may run more than once.
    """
    for _ in range(_ATTEMPTS):
        current, etag = await _read_project(store, name)
        new = change(current)
        if new == current:
            return current
        json_path, html_path = page_path(name, Format.JSON), page_path(name, Format.HTML)
        if new is None:
            assert etag is not None
            try:
                await store.delete(json_path, if_match=etag)
            except (PreconditionFailed, BlobNotFound):
                continue
            try:
                await store.delete(html_path)
            except BlobNotFound:
                pass
            return None
        if await _swap(
            store, json_path, html_path, render_project_json(new), render_project_html(new), etag
        ):
            return new
    raise StorageUnavailable(
        f"gave up updating the page of {name!r} after {_ATTEMPTS} conflicting writes: rerun"
    )


async def update_root(store: BlobStore, change: Callable[[ProjectList], ProjectList]) -> None:
    """Apply ``change`` to the project list, as ``update_project`` does for one project."""
    for _ in range(_ATTEMPTS):
        current, etag = await _read_root(store)
        new = change(current)
        if new == current and etag is not None:
            return
        if await _swap(
            store,
            page_path(None, Format.JSON),
            page_path(None, Format.HTML),
            render_index_json(new),
            render_index_html(new),
            etag,
        ):
            return
    raise StorageUnavailable(
        f"gave up updating the project list after {_ATTEMPTS} conflicting writes: rerun"
    )
