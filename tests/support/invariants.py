"""What must hold of a container at every moment, whatever failed or was killed: the checks
the fault suite and the crash test run after each fault.

- every file a page lists is stored, whole, with the sha256 the page states (both formats);
- a project's JSON and HTML pages list the same files with the same hashes and metadata:
  the HTML the server derives always, and the stored HTML twin whenever it names the record's
  ETag (after a kill it may name an older one, so recognisably stale; the next sync mends it,
  so a settled container has no stale twin);
- every ``.metadata`` a page announces is stored with the hash it states;
- the root page lists exactly the projects that have pages (after a kill: only projects that
  have pages, as it is written after them).
"""

from __future__ import annotations

import hashlib
import json
import re

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.render import index_html_from_json, project_html_from_json
from blobpi.mirror.store.cas import is_stale
from blobpi.mirror.store.protocol import BlobInfo, BlobStore, blob_sha256

__all__ = ["check_invariants", "snapshot_pages"]

_ANCHOR = re.compile(r'<a href="([^"#]+)#sha256=([0-9a-f]{64})"([^>]*)>([^<]+)</a>')


async def _read(store: BlobStore, path: str) -> bytes:
    blob = await store.get(path)
    assert blob is not None
    return blob.data


async def _html(store: BlobStore, name: NormalizedName | None, settled: bool) -> str:
    """The page's HTML to check against its record: the stored twin when it names the record
    as it is now, else (only after a kill) the HTML the server derives from the record."""
    record = await store.get(page_path(name, Format.JSON))
    assert record is not None
    try:
        twin: BlobInfo | None = await store.head(page_path(name, Format.HTML))
    except BlobNotFound:
        twin = None
    if is_stale(record.info, twin):
        assert not settled, f"{page_path(name, Format.HTML)} is stale in a settled container"
        derive = project_html_from_json if name is not None else index_html_from_json
        return derive(record.data).decode()
    return (await _read(store, page_path(name, Format.HTML))).decode()


async def check_invariants(store: BlobStore, *, settled: bool = True) -> set[str]:
    """Assert every invariant; returns the filenames the pages list. ``settled=False`` after
    a kill: the root is written after the project pages, so it may lag behind them (not
    list a new project yet), but it never lists a project without pages."""
    try:
        root = json.loads(await _read(store, page_path(None, Format.JSON)))
    except BlobNotFound:  # nothing published yet: then no page exists either
        assert settled is False or [i.path async for i in store.list("simple/")] == []
        root = {"projects": []}
        root_html = ""
    else:
        root_html = await _html(store, None, settled)
    projects = {p["name"] for p in root["projects"]}
    assert projects == set(re.findall(r'<a href="([^"/]+)/">', root_html)), "root pages differ"
    with_pages = set()
    async for info in store.list("simple/"):
        parts = info.path.split("/")
        if len(parts) == 3 and parts[2] == "index.v1_json":
            with_pages.add(parts[1])
    if settled:
        assert projects == with_pages, f"root lists {projects}, pages exist for {with_pages}"
    else:
        assert projects <= with_pages, f"root lists {projects - with_pages}, which have no pages"
    listed = set()
    for name in sorted(with_pages):
        page = json.loads(await _read(store, page_path(NormalizedName(name), Format.JSON)))
        html = await _html(store, NormalizedName(name), settled)
        anchors = {m[4]: (m[1], m[2]) for m in _ANCHOR.finditer(html)}
        files = {f["filename"]: f for f in page["files"]}
        assert set(anchors) == set(files), f"{name}: JSON and HTML list other files"
        for filename, file in files.items():
            url, sha256 = file["url"], file["hashes"]["sha256"]
            assert anchors[filename] == (url, sha256), f"{name}: pages disagree on {filename}"
            path = url.removeprefix("../../")
            assert await blob_sha256(store, path) == sha256, f"{path} is not what the page says"
            core = file.get("core-metadata")
            if isinstance(core, dict):
                stored = hashlib.sha256(await _read(store, path + ".metadata")).hexdigest()
                assert stored == core["sha256"], f"{path}.metadata is not what the page says"
            listed.add(filename)
    return listed


async def snapshot_pages(store: BlobStore) -> dict[str, bytes]:
    """Every page blob's bytes: to show that a failed run left the served index as it was."""
    return {info.path: await _read(store, info.path) async for info in store.list("simple/")}
