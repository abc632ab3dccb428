"""Local yanks (PEP 592): the index's own yank decisions, kept apart from upstream's.

``blobpi yank`` records a decision in ``state/yanks/<project>.json`` (filename -> reason, or
``true`` for none) before it re-renders the page, and the sync worker applies the same
record whenever it rebuilds a mirrored page, so a local yank survives every sync. An upstream
yank is taken as upstream states it; a local record can add a yank, never remove one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from packaging.utils import NormalizedName

from blobpi.mirror.core.layout import yanks_path
from blobpi.mirror.core.model import ProjectPage
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.records import read_record

__all__ = ["apply_yanks", "read_yanks"]

Yanks = Mapping[str, bool | str]


async def read_yanks(
    store: BlobStore, project: NormalizedName
) -> tuple[dict[str, bool | str], str | None]:
    """The project's local yanks and the record's ETag (None when there is no record)."""
    return await read_record(store, yanks_path(project))


def apply_yanks(page: ProjectPage, yanks: Yanks) -> ProjectPage:
    """The page with the local yanks applied to the files they name (pure).

    >>> from blobpi.mirror.core.model import File
    >>> page = ProjectPage(name="a", files=(File("a-1.tar.gz", "u", {}),))
    >>> apply_yanks(page, {"a-1.tar.gz": "broken"}).files[0].yanked
    'broken'
    """
    files = tuple(
        dataclasses.replace(f, yanked=yanks[f.filename] or True)
        if f.filename in yanks and f.yanked is False
        else f
        for f in page.files
    )
    return dataclasses.replace(page, files=files)
