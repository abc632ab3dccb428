"""Refresh the OSV advisory database in the container from ``[curation] osv-url``.

The sync job is the one part with a way out of the VNet, so it fetches the OSV export's
``all.zip`` (or reads it from a local path, for air-gapped sites that copy it in) and keeps
it at ``state/osv/all.zip``; the gate, ``blobpi audit`` and the server read that copy. The
request is conditional on the last ETag (``state/osv/source.json``), and an archive that does
not parse is refused before it replaces the stored one: bad input never loses a good database.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx

from blobpi.mirror.core.errors import BlobNotFound, ConfigError, UpstreamUnavailable
from blobpi.mirror.core.layout import osv_archive_path, osv_source_path
from blobpi.mirror.store.protocol import BlobStore, redact_url
from blobpi.mirror.store.records import read_record
from blobpi.sync.core.advisories import Database, parse_archive

__all__ = ["MAX_ARCHIVE_BYTES", "refresh_database"]

MAX_ARCHIVE_BYTES = 1024**3  # the PyPI export is tens of MB; a bound, not a budget


async def _download(
    client: httpx.AsyncClient, url: str, etag: str | None
) -> tuple[bytes | None, str | None]:
    headers = {"If-None-Match": etag} if etag else {}
    where = redact_url(url)
    try:
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return None, etag
            if response.status_code != 200:
                raise UpstreamUnavailable(
                    f"the OSV archive {where} answered HTTP {response.status_code}: "
                    "check [curation] osv-url (BLOBPI_OSV_URL)"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ARCHIVE_BYTES:
                    raise UpstreamUnavailable(
                        f"the OSV archive {where} is over {MAX_ARCHIVE_BYTES} bytes: is "
                        "osv-url the PyPI export's all.zip?"
                    )
            return bytes(body), response.headers.get("etag")
    except httpx.HTTPError as e:
        raise UpstreamUnavailable(
            f"cannot fetch the OSV archive {where} ({type(e).__name__}): check [curation] "
            "osv-url and the network; the stored database stays in use"
        ) from None


async def _read_local(path: Path) -> bytes:
    try:
        return await anyio.Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(
            f"cannot read the OSV archive {str(path)!r} ({e.strerror}): fix [curation] osv-url"
        ) from None


async def refresh_database(store: BlobStore, url: str, client: httpx.AsyncClient) -> Database:
    """Fetch ``url`` into the container when it changed; return the database now stored.
    ``client`` is the sync's own (``sync.io.network``: its proxies and trust store)."""
    source, _ = await read_record(store, osv_source_path())
    etag = source.get("etag") if source.get("url") == url else None
    if urlsplit(url).scheme in ("http", "https"):
        data, new_etag = await _download(client, url, etag)
    else:
        data, new_etag = await _read_local(Path(url.removeprefix("file://"))), None
    if data is None:  # 304: the stored copy is current
        try:
            stored = await store.get(osv_archive_path())
        except BlobNotFound:
            stored = None
        if stored is not None:
            return await anyio.to_thread.run_sync(parse_archive, stored.data, osv_archive_path())
        data, new_etag = await _download(client, url, None)  # the copy went missing
        assert data is not None
    # refused before it replaces anything; parsed in a worker thread (tens of thousands of records)
    database = await anyio.to_thread.run_sync(parse_archive, data, redact_url(url))
    digest = hashlib.sha256(data).hexdigest()
    record = {"url": url, "etag": new_etag, "sha256": digest, "records": len(database)}
    if record != source:  # an unchanged local copy or a 304 writes nothing
        await store.put(osv_archive_path(), data)
        await store.put(osv_source_path(), json.dumps(record, sort_keys=True).encode())
    return database
