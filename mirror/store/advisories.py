"""The OSV advisory database kept in the container (``state/osv/all.zip``), read for the
sync's gate, ``blobpi audit`` and the server's OSV API, so nothing inside the VNet needs the
internet. The sync job refreshes it (``sync.io.osv``)."""

from __future__ import annotations

import anyio.to_thread

from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.layout import osv_archive_path
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.advisories import Database, parse_archive

__all__ = ["read_database"]


async def read_database(store: BlobStore) -> tuple[Database, str] | None:
    """The stored database and its blob ETag, or None when the sync has stored none."""
    try:
        blob = await store.get(osv_archive_path())
    except BlobNotFound:
        return None
    if blob is None:
        return None
    where = f"{osv_archive_path()} in {store.description}"
    # tens of thousands of records: parsed in a worker thread, so the event loop keeps serving
    return await anyio.to_thread.run_sync(parse_archive, blob.data, where), blob.info.etag
