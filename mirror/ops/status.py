"""Project status (PEP 792): the index's own decision, kept apart from the upstream's.

``blobpi status PROJECT archived|deprecated|quarantined --reason ...`` records the decision in
``state/status/<project>.json`` and re-renders the pages; the sync re-applies the record on
every rebuild, so it survives syncs, as local yanks do. A local status wins over the
upstream's; ``active`` clears it, and the next sync shows the upstream's again. A quarantined
project lists no files (PEP 792: the index MUST NOT offer them) and the sync fetches nothing
for it; its blobs stay, so making it active again and syncing restores the pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, cast

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import InvalidName, OperationRefused, ProjectNotFound
from blobpi.mirror.core.layout import status_dir, status_path
from blobpi.mirror.core.model import STATUSES, ProjectPage, Status
from blobpi.mirror.store.pages import read_project, update_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.records import change_record, read_record

__all__ = ["apply_status", "read_status", "set_status", "statused_projects"]


async def read_status(store: BlobStore, project: NormalizedName) -> dict[str, Any]:
    """The project's local status record (``status``, ``reason``), or ``{}``."""
    return (await read_record(store, status_path(project)))[0]


async def statused_projects(store: BlobStore) -> frozenset[str]:
    """The projects that have a local status record: one listing, not a read per project."""
    found = set()
    async for info in store.list(status_dir()):
        name = NormalizedName(info.path.removeprefix(status_dir()).removesuffix(".json"))
        try:
            if status_path(name) == info.path:
                found.add(name)
        except InvalidName:
            continue  # not a record blobpi wrote

    return frozenset(found)


def apply_status(
    page: ProjectPage,
    local: Mapping[str, Any],
    upstream: tuple[Status | None, str | None] = (None, None),
) -> ProjectPage:
    """The page with its effective status: the local record's, else the upstream's (pure).

    >>> from blobpi.mirror.core.model import File
    >>> page = ProjectPage(name="a", files=(File("a-1.tar.gz", "u", {}),))
    >>> quarantined = apply_status(page, {"status": "quarantined", "reason": "malware"})
    >>> quarantined.status, quarantined.files
    ('quarantined', ())
    >>> apply_status(page, {}, ("archived", None)).status
    'archived'
    """
    status, reason = upstream
    if local.get("status") in STATUSES[1:]:
        status, reason = cast(Status, local["status"]), local.get("reason") or None
    files = () if status == "quarantined" else page.files
    return dataclasses.replace(page, files=files, status=status, status_reason=reason)


async def set_status(
    store: BlobStore, project: NormalizedName, status: str, reason: str | None
) -> ProjectPage | None:
    """Record a local status and re-render the project's pages; the page as it is now."""
    if status not in STATUSES:
        raise OperationRefused(f"{status!r} is not a PEP 792 status: use {', '.join(STATUSES)}")
    text = (reason or "").strip()
    if status != "active" and not text:
        raise OperationRefused(
            f"a {status} status needs a reason for the people who install it: pass --reason"
        )
    page = await _page(store, project)
    if status == "quarantined" and page.origin == "private":
        raise OperationRefused(
            f"{project!r} holds private uploads, whose pages are their only record: yank "
            "('blobpi yank') or delete its files instead of quarantining it"
        )
    record = {} if status == "active" else {"status": status, "reason": text}
    await change_record(store, status_path(project), lambda _: record)

    def _change(current: ProjectPage | None) -> ProjectPage | None:
        if current is None:
            return None
        if status == "active":  # the upstream's own status comes back with the next sync
            return dataclasses.replace(current, status=None, status_reason=None)
        return apply_status(current, record)

    return await update_project(store, project, _change)


async def _page(store: BlobStore, project: NormalizedName) -> ProjectPage:
    page = await read_project(store, project)
    if page is None:
        raise ProjectNotFound(
            f"the index has no project {project!r}: check the name ('blobpi status' sets the "
            "status of a project it serves)"
        )
    return page
