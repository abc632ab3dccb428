"""OSV's query API inside the firewall, answered from the container's OSV database.

``POST /osv/v1/query`` (one package and version, or a ``pkg:pypi/NAME@VERSION`` purl: the
full records that affect it), ``POST /osv/v1/querybatch`` (up to 1,000 queries: ids and
``modified`` per query, as OSV answers) and ``GET /osv/v1/vulns/{id}`` (one record), the
subset of https://google.github.io/osv.dev/api/ that ``pip-audit --osv-url`` and other OSV
clients use. Only the ``PyPI`` ecosystem is held; any other is answered with no results.
The database is the sync's copy (``state/osv/all.zip``), kept in memory and revalidated
against its blob ETag at most every ``BLOBPI_PAGE_TTL`` seconds, like the pages.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from packaging.utils import NormalizedName, canonicalize_name
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from blobpi.mirror.core.errors import BlobNotFound, InvalidQuery, NoAdvisories
from blobpi.mirror.core.layout import osv_archive_path
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.advisories import Database, parse_archive

__all__ = ["AdvisoryCache", "answer_query", "osv_routes", "parse_query"]

MAX_BODY = 1024 * 1024
MAX_BATCH = 1000  # OSV's own limit per querybatch


class AdvisoryCache:
    """The parsed database, re-read only when its blob changed (a conditional read)."""

    def __init__(self, store: BlobStore, ttl: float) -> None:
        self.store, self.ttl = store, ttl
        self._database: Database | None = None
        self._etag: str | None = None
        self._checked = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self) -> Database:
        async with self._lock:
            if time.monotonic() - self._checked >= self.ttl:
                try:
                    blob = await self.store.get(osv_archive_path(), if_none_match=self._etag)
                except BlobNotFound:
                    self._database, self._etag = None, None
                else:
                    if blob is not None:  # changed (or first read): parse once, off the loop
                        self._database = await anyio.to_thread.run_sync(
                            parse_archive, blob.data, osv_archive_path()
                        )
                        self._etag = blob.info.etag
                self._checked = time.monotonic()
            if self._database is None:
                raise NoAdvisories(
                    "this index holds no OSV database yet: set [curation] osv-url for the "
                    "sync job and let it run once"
                )
            return self._database


def parse_query(raw: object) -> tuple[NormalizedName | None, str | None]:
    """(normalized PyPI name, version or None) of one OSV query; (None, None) for another
    ecosystem.

    >>> parse_query({"package": {"name": "Demo_Pkg", "ecosystem": "PyPI"}, "version": "1.0"})
    ('demo-pkg', '1.0')
    >>> parse_query({"package": {"purl": "pkg:pypi/demo@2.0"}})
    ('demo', '2.0')
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("package"), Mapping):
        raise InvalidQuery('an OSV query is {"package": {"name": ..., "ecosystem": "PyPI"}, ...}')
    package, version = raw["package"], raw.get("version")
    if "commit" in raw:
        return None, None  # commits are for GIT ranges, which name no PyPI release
    purl = package.get("purl")
    if isinstance(purl, str) and purl:
        kind, _, rest = purl.removeprefix("pkg:").partition("/")
        if kind.lower() != "pypi":
            return None, None
        name, _, at = rest.partition("@")
        version = version or (unquote(at.split("?")[0].split("#")[0]) or None)
    else:
        if package.get("ecosystem") != "PyPI":
            return None, None
        name = package.get("name")
    if not isinstance(name, str) or not name or not (version is None or isinstance(version, str)):
        raise InvalidQuery("an OSV query needs a package name (text) and a version (text)")
    return canonicalize_name(unquote(name)), version


def answer_query(database: Database, raw: object) -> list[Mapping[str, Any]]:
    """The records that affect one query's release, or every record of the package without
    a version, as published."""
    name, version = parse_query(raw)
    if name is None:
        return []
    if version is None:
        found = database.by_project.get(name, ())
    else:
        found = database.affecting(name, version)
    return [a.raw for a in found]


async def _body(request: Request) -> Any:
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise InvalidQuery(f"an OSV query body is at most {MAX_BODY} bytes")
    try:
        return json.loads(data)
    except ValueError:
        raise InvalidQuery("the request body is not JSON: send an OSV query") from None


def _json(document: object) -> Response:
    return Response(json.dumps(document, separators=(",", ":")), media_type="application/json")


def _cache(request: Request) -> AdvisoryCache:
    cache: AdvisoryCache = request.app.state.advisories
    return cache


async def query(request: Request) -> Response:
    raw = await _body(request)
    vulns = answer_query(await _cache(request).get(), raw)
    return _json({"vulns": vulns} if vulns else {})  # OSV answers {} when nothing matches


async def querybatch(request: Request) -> Response:
    raw = await _body(request)
    queries = raw.get("queries") if isinstance(raw, Mapping) else None
    if not isinstance(queries, list) or len(queries) > MAX_BATCH:
        raise InvalidQuery(f'a batch is {{"queries": [...]}} with at most {MAX_BATCH} queries')
    database = await _cache(request).get()
    results = []
    for one in queries:
        vulns = [
            {"id": r["id"], "modified": r.get("modified")} for r in answer_query(database, one)
        ]
        results.append({"vulns": vulns} if vulns else {})
    return _json({"results": results})


async def vuln(request: Request) -> Response:
    ident = request.path_params["id"]
    found = (await _cache(request).get()).by_id.get(ident)
    if found is None:
        raise BlobNotFound(f"no advisory {ident[:80]!r} in this index's OSV database")
    return _json(found.raw)


def osv_routes() -> list[Route]:
    return [
        Route("/osv/v1/query", query, methods=["POST"]),
        Route("/osv/v1/querybatch", querybatch, methods=["POST"]),
        Route("/osv/v1/vulns/{id}", vuln, methods=["GET", "HEAD"]),
    ]
