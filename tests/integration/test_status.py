"""PEP 792 project status through the mirror: an upstream's ``project-status`` passed on to
both page formats, an upstream quarantine taken down at once, and ``blobpi status`` kept
across syncs; the pages are read back by an independent client (pypi-simple)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypi_simple
import pytest

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import BlobNotFound, OperationRefused, UploadForbidden
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.ops.status import set_status
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.io.apply import run_sync
from blobpi.sync.io.report import Report
from tests.support.dists import build_wheel
from tests.support.syncconfig import sync_config
from tests.support.upstream import LocalUpstream

pytestmark = pytest.mark.anyio


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[LocalUpstream]:
    with LocalUpstream.start() as up:
        up.add(build_wheel(tmp_path, "demo", "1.0"))
        up.add(build_wheel(tmp_path, "other", "2.0"))
        yield up


async def _sync(store: BlobStore, upstream: LocalUpstream, text: str = "demo\nother") -> Report:
    config = sync_config(upstream, retries=0, timeout=60.0)
    return await run_sync(store, config, parse_allowlist(text))


async def _both(store: BlobStore, name: str) -> tuple[pypi_simple.ProjectPage, ...]:
    base = f"https://idx/simple/{name}/"
    json_blob = await store.get(page_path(name, Format.JSON))  # type: ignore[arg-type]
    html_blob = await store.get(page_path(name, Format.HTML))  # type: ignore[arg-type]
    assert json_blob is not None and html_blob is not None
    return (
        pypi_simple.ProjectPage.from_json_data(json.loads(json_blob.data), base),
        pypi_simple.ProjectPage.from_html(name, html_blob.data, base),
    )


@pytest.mark.parametrize("html_only", [False, True])
async def test_status__upstream_status_passes_through(
    store: BlobStore, upstream: LocalUpstream, html_only: bool
) -> None:
    upstream.html_only = html_only  # the HTML upstream's meta tags are read as well
    upstream.set_status("demo", "archived", "moved to demo2")
    assert (await _sync(store, upstream)).ok
    for parsed in await _both(store, "demo"):
        assert (str(parsed.status), parsed.status_reason) == ("archived", "moved to demo2")
        assert [p.filename for p in parsed.packages] == ["demo-1.0-py3-none-any.whl"]
    for parsed in await _both(store, "other"):
        assert parsed.status is None or str(parsed.status) == "active"


async def test_status__upstream_quarantine_is_taken_down(
    store: BlobStore, upstream: LocalUpstream
) -> None:
    assert (await _sync(store, upstream)).ok
    page = await read_project(store, "demo")  # type: ignore[arg-type]
    assert page is not None and page.files[0].blob_path is not None
    blob = page.files[0].blob_path
    upstream.set_status("demo", "quarantined", "malware")
    report = await _sync(store, upstream, "demo==1.0\nother")
    assert report.takedowns == [
        "'demo-1.0-py3-none-any.whl' taken down (deleted upstream): the upstream quarantined "
        "'demo' (malware)"
    ]
    assert "the upstream quarantined 'demo' (malware): its files leave the pages now" in (
        report.notes
    )
    assert report.failed == ["'demo==1.0' is kept out: the upstream quarantined 'demo' (malware)"]
    for parsed in await _both(store, "demo"):
        assert (str(parsed.status), parsed.packages) == ("quarantined", [])
    with pytest.raises(BlobNotFound):
        await store.head(blob)
    assert [f.filename for f in (await read_project(store, "other")).files]  # type: ignore[arg-type, union-attr]


def test_status__local_status_kept_across_syncs(
    upstream: LocalUpstream, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = str(tmp_path / "data")
    lock = tmp_path / "allowlist.txt"
    lock.write_text("demo\nother\n")
    env = {
        "BLOBPI_STORAGE": storage,
        "BLOBPI_UPSTREAM": upstream.index_url,
        "BLOBPI_ALLOWLIST": str(lock),
    }
    assert main(["sync"], environ=env) == 0
    assert main(["status", "Demo", "deprecated", "--reason", "use other"], environ=env) == 0
    assert "demo is deprecated: use other; its pages list 1 file" in capsys.readouterr().out
    assert main(["sync"], environ=env) == 0
    page = _read(tmp_path, "demo")
    assert page["project-status"] == {"status": "deprecated", "reason": "use other"}
    assert len(page["files"]) == 1

    assert main(["status", "demo", "quarantined", "--reason", "under review"], environ=env) == 0
    assert main(["sync"], environ=env) == 0
    assert "'demo' is quarantined here (under review)" in capsys.readouterr().err
    page = _read(tmp_path, "demo")
    assert page["project-status"]["status"] == "quarantined" and page["files"] == []

    assert main(["status", "demo", "active"], environ=env) == 0
    assert main(["sync"], environ=env) == 0
    page = _read(tmp_path, "demo")
    assert "project-status" not in page and len(page["files"]) == 1  # restored from its blobs

    assert main(["status", "demo", "archived"], environ=env) == 1
    assert "needs a reason" in capsys.readouterr().err


def _read(tmp_path: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (tmp_path / "data" / "simple" / name / "index.v1_json").read_bytes()
    )
    return data


async def test_status__private_project_deprecated_keeps_uploads_archived_refuses_them(
    store: BlobStore, tmp_path: Path
) -> None:
    def _open(version: str) -> Any:
        return build_wheel(tmp_path / version, "acme", version).open("rb")

    with _open("1.0") as f:
        await publish(store, "acme-1.0-py3-none-any.whl", f, max_bytes=1 << 20)
    await set_status(store, "acme", "deprecated", "use acme2")  # type: ignore[arg-type]
    with _open("1.1") as f:
        await publish(store, "acme-1.1-py3-none-any.whl", f, max_bytes=1 << 20)
    page = await read_project(store, "acme")  # type: ignore[arg-type]
    assert page is not None and len(page.files) == 2
    assert (page.status, page.status_reason) == ("deprecated", "use acme2")
    await set_status(store, "acme", "archived", "read only")  # type: ignore[arg-type]
    with _open("1.2") as f, pytest.raises(UploadForbidden, match="'acme' is archived"):
        await publish(store, "acme-1.2-py3-none-any.whl", f, max_bytes=1 << 20)
    with pytest.raises(OperationRefused, match="holds private uploads"):
        await set_status(store, "acme", "quarantined", "x")  # type: ignore[arg-type]
