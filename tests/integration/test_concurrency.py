"""Concurrency: racing uploads of one filename, and pages read while they change, on the local
store and on Azurite. Whoever wins, the JSON record, the stored HTML twin, the HTML the
server serves and the bytes it serves all name one sha256 (docs/guarantees.md)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import anyio
import httpx
import pytest

from blobpi.mirror.core.errors import UploadConflict
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.model import ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.render import project_html_from_json
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.publish import Published, publish
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.pages import read_project, read_projects
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.io.apply import run_sync
from tests.support.dists import build_wheel
from tests.support.syncconfig import sync_config
from tests.support.upstream import LocalUpstream

pytestmark = pytest.mark.anyio
ROUNDS = 12  # per store; each round races RACERS uploads of one new filename
RACERS = 3
UPSTREAM_PROJECTS = 8
_HREF_HASH = re.compile(rb'href="[^"#]*/([^/"#]+)#sha256=([0-9a-f]{64})"')


def _variants(tmp: Path, version: str) -> list[Path]:
    """RACERS wheels with one filename and different bytes (each requires another package)."""
    return [
        build_wheel(tmp / f"{version}-{i}", "racer", version, requires=[f"dep{i}"])
        for i in range(RACERS)
    ]


def _html_hashes(html: bytes) -> dict[str, str]:
    return {m[1].decode(): m[2].decode() for m in _HREF_HASH.finditer(html)}


async def _served(store: BlobStore, name: str) -> tuple[ProjectPage, bytes, bytes, bytes]:
    """The record, the stored HTML twin, and what the server answers in JSON and HTML."""
    page = await read_project(store, name)  # type: ignore[arg-type]
    assert page is not None
    twin = await store.get(page_path(name, Format.HTML))  # type: ignore[arg-type]
    assert twin is not None
    app = create_app(Settings(storage="unused"), store=store)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        html = await client.get(f"/simple/{name}/", headers={"Accept": "text/html"})
        json_page = await client.get(f"/simple/{name}/?format=application/vnd.pypi.simple.v1+json")
    assert html.status_code == json_page.status_code == 200
    return page, twin.data, html.content, json_page.content


async def _check_consistent(store: BlobStore, name: str) -> None:
    page, twin, served_html, _ = await _served(store, name)
    record_hashes = {f.filename: f.sha256 for f in page.files}
    assert _html_hashes(twin) == record_hashes  # the stored twin agrees with the record
    assert _html_hashes(served_html) == record_hashes  # and so does what is served
    for file in page.files:  # every hash a page states is the hash of the bytes served
        assert file.blob_path is not None
        blob = await store.get(file.blob_path)
        assert blob is not None and hashlib.sha256(blob.data).hexdigest() == file.sha256


async def test_concurrency__racing_uploads_of_one_filename_agree_everywhere(
    store: BlobStore, tmp_path: Path
) -> None:
    winners = 0
    for round_ in range(ROUNDS):
        version = f"1.{round_}"
        results: list[Published | UploadConflict] = []

        async def _upload(path: Path, results: list[Published | UploadConflict]) -> None:
            with path.open("rb") as f:
                try:
                    results.append(await publish(store, path.name, f, max_bytes=10**6))
                except UploadConflict as e:
                    results.append(e)

        async with anyio.create_task_group() as group:
            for path in _variants(tmp_path, version):
                group.start_soon(_upload, path, results)
        won = [r for r in results if isinstance(r, Published) and r.created]
        assert len(won) == 1, results  # exactly one upload created the file, the rest got 409
        winners += 1
        await _check_consistent(store, "racer")
        page = await read_project(store, "racer")  # type: ignore[arg-type]
        assert page is not None
        assert page.file(f"racer-{version}-py3-none-any.whl") == won[0].file
    assert winners == ROUNDS
    # A later unrelated upload re-renders the pages: no listed hash changes.
    before = {f.filename: f.sha256 for f in (await read_project(store, "racer")).files}  # type: ignore[arg-type, union-attr]
    other = build_wheel(tmp_path / "other", "racer", "9.9")
    with other.open("rb") as f:
        await publish(store, other.name, f, max_bytes=10**6)
    after = {f.filename: f.sha256 for f in (await read_project(store, "racer")).files}  # type: ignore[arg-type, union-attr]
    assert {k: v for k, v in after.items() if k in before} == before
    await _check_consistent(store, "racer")


async def test_concurrency__a_stale_html_twin_is_never_served(store: BlobStore) -> None:
    """A writer that died between the JSON commit and the HTML twin (or a twin written by an
    older blobpi) cannot tear what clients see: HTML is served from the record."""
    page = ProjectPage.build("torn", [], ["1.0"], origin="private")  # type: ignore[arg-type]
    from blobpi.mirror.core.render import render_project_json

    record = render_project_json(page)
    await store.put(page_path("torn", Format.JSON), record)  # type: ignore[arg-type]
    await store.put(page_path("torn", Format.HTML), b"<a href='../../evil#sha256=00'>x</a>")  # type: ignore[arg-type]
    _, _, served_html, _ = await _served(store, "torn")
    assert served_html == project_html_from_json(record)


async def test_concurrency__a_sync_while_uploads_happen_loses_nothing(
    store: BlobStore, tmp_path: Path
) -> None:
    """The sync (mirrored projects) and uploads (private ones) write the same root page at
    once: every project of both ends up listed, and every page agrees with its bytes."""
    built = tmp_path / "upstream"
    with LocalUpstream.start() as upstream:
        pins = []
        for i in range(UPSTREAM_PROJECTS):
            pins.append(upstream.add(build_wheel(built, f"mirrored{i}", "1.0")).pin)
        config = sync_config(upstream, timeout=5.0)
        private = [build_wheel(tmp_path / "private", f"private{i}", "1.0") for i in range(8)]

        async def _uploads() -> None:
            for wheel in private:
                with wheel.open("rb") as f:
                    await publish(store, wheel.name, f, max_bytes=10**6)

        async with anyio.create_task_group() as group:
            group.start_soon(_uploads)
            group.start_soon(
                lambda: run_sync(store, config, parse_allowlist("\n".join(pins) + "\n"))
            )
    listed = set((await read_projects(store)).projects)
    expected = {f"mirrored{i}" for i in range(UPSTREAM_PROJECTS)} | {
        f"private{i}" for i in range(8)
    }
    assert listed == expected
    root_html = await store.get(page_path(None, Format.HTML))
    assert root_html is not None
    assert all(f'href="{name}/"'.encode() in root_html.data for name in expected)
    for name in expected:
        await _check_consistent(store, name)
