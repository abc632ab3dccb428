"""Upload policies in-process (real stores): the deliberate dependency-confusion override
(``BLOBPI_SHARED_NAMES``) and tokens limited to one project."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.store.pages import read_project, update_project, update_root
from blobpi.mirror.store.protocol import BlobStore
from tests.integration.test_auth import add_token, auth, serve
from tests.support.dists import build_wheel

pytestmark = pytest.mark.anyio


def _form(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "data": {":action": "file_upload", "sha256_digest": hashlib.sha256(data).hexdigest()},
        "files": {"content": (path.name, data)},
    }


async def _mirrored(store: BlobStore, name: str) -> ProjectPage:
    upstream = File(f"{name}-1.0.tar.gz", "https://files.invalid/x", {"sha256": "0" * 64})
    page = ProjectPage.build(name, [upstream], ["1.0"], origin="mirror")  # type: ignore[arg-type]
    await update_project(store, page.name, lambda _: page)
    await update_root(store, lambda p: ProjectList.of([*p.projects, page.name]))
    return page


@pytest.mark.parametrize(("shared", "status"), [(frozenset(), 403), (frozenset({"requests"}), 200)])
async def test_upload_api__shared_names_override_the_guard(
    store: BlobStore, tmp_path: Path, shared: frozenset[str], status: int
) -> None:
    await _mirrored(store, "requests")
    secret, _ = await add_token(store, "upload")
    wheel = build_wheel(tmp_path, "requests", "2.31.0+corp1")
    async with serve(store, shared_names=shared) as http:
        response = await http.post("/", auth=auth(secret), **_form(wheel))
    assert response.status_code == status, response.text
    page = await read_project(store, "requests")  # type: ignore[arg-type]
    assert page is not None
    names = {f.filename for f in page.files}
    if status == 403:
        assert "BLOBPI_SHARED_NAMES" in response.text and names == {"requests-1.0.tar.gz"}
    else:  # both, and the page now says it holds private files, so a sync must merge
        assert names == {"requests-1.0.tar.gz", wheel.name} and page.origin == "private"


async def test_upload_api__project_token_uploads_its_project(
    store: BlobStore, tmp_path: Path
) -> None:
    secret, _ = await add_token(store, "upload", project="corp-a")
    wheel = build_wheel(tmp_path, "Corp_A", "1.0")
    async with serve(store) as http:
        response = await http.post("/", auth=auth(secret), **_form(wheel))
        assert response.status_code == 200 and response.text == f"uploaded {wheel.name}\n"
        again = await http.post("/", auth=auth(secret), **_form(wheel))
        assert again.text == f"already present, unchanged: {wheel.name}\n"
        page = await http.get("/simple/corp-a/", auth=auth(secret))
        assert page.status_code == 200 and wheel.name in page.text
