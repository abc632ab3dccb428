"""Yank, unyank and delete (mirror/retraction.py, ``blobpi yank|unyank|delete``) on both
stores: PEP 592 on the pages, the local record that the sync re-applies, upstream's yanks
left alone, and deletes that never leave a page pointing at a missing file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import anyio
import pytest
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import (
    BlobNotFound,
    OperationRefused,
    ProjectNotFound,
    UploadConflict,
)
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.ops.retraction import delete, unyank, yank
from blobpi.mirror.ops.yanks import apply_yanks, read_yanks
from blobpi.mirror.store.pages import (
    read_project,
    read_projects,
    update_project,
    update_root,
)
from blobpi.mirror.store.protocol import BlobStore
from tests.conftest import StoreSpec
from tests.support.dists import build_sdist, build_wheel

pytestmark = pytest.mark.anyio
CORP = canonicalize_name("corp")
UP = canonicalize_name("upstream-lib")
V1 = Version("1.0")


async def _publish(store: BlobStore, tmp: Path) -> dict[str, File]:
    paths = [
        build_wheel(tmp, "corp", "1.0"),
        build_sdist(tmp, "corp", "1.0"),
        build_wheel(tmp, "corp", "2.0"),
    ]
    files = {}
    for path in paths:
        with path.open("rb") as f:
            files[path.name] = (await publish(store, path.name, f, max_bytes=10**7)).file
    return files


def _upstream_page(a_yanked: bool | str = "upstream says no") -> ProjectPage:
    files = [
        File("upstream_lib-1.0.tar.gz", "https://files.invalid/a", {"sha256": "a" * 64}),
        File("upstream_lib-1.0-py3-none-any.whl", "https://files.invalid/b", {"sha256": "b" * 64}),
    ]
    files[0] = dataclasses.replace(files[0], yanked=a_yanked)
    return ProjectPage.build(UP, files, ["1.0"], origin="mirror")


async def _mirror(store: BlobStore, page: ProjectPage) -> None:
    """What the sync does when it rebuilds a mirrored page: upstream's page plus our record."""
    record, _ = await read_yanks(store, page.name)
    await update_project(store, page.name, lambda _: apply_yanks(page, record))
    await update_root(store, lambda p: ProjectList.of([*p.projects, page.name]))


async def _yanks(store: BlobStore, name: NormalizedName) -> dict[str, bool | str]:
    page = await read_project(store, name)
    assert page is not None
    return {f.filename: f.yanked for f in page.files}


async def _listing(store: BlobStore) -> dict[str, str]:
    return {b.path: b.etag async for b in store.list()}


async def test_yank__private_release_then_unyank(store: BlobStore, tmp_path: Path) -> None:
    await _publish(store, tmp_path)
    yanked = await yank(store, CORP, V1, None, "broken build")
    assert sorted(yanked) == ["corp-1.0-py3-none-any.whl", "corp-1.0.tar.gz"]
    assert await _yanks(store, CORP) == {
        "corp-1.0-py3-none-any.whl": "broken build",
        "corp-1.0.tar.gz": "broken build",
        "corp-2.0-py3-none-any.whl": False,
    }
    html = await store.get(page_path(CORP, Format.HTML))
    assert html is not None and b'data-yanked="broken build"' in html.data
    record, _ = await read_yanks(store, CORP)
    assert record == dict.fromkeys(yanked, "broken build")

    assert sorted(await unyank(store, CORP, V1, None)) == sorted(yanked)
    assert set((await _yanks(store, CORP)).values()) == {False}
    assert await read_yanks(store, CORP) == ({}, None)  # the record is gone


async def test_yank__one_file_and_a_new_reason(store: BlobStore, tmp_path: Path) -> None:
    await _publish(store, tmp_path)
    await yank(store, CORP, V1, "corp-1.0.tar.gz", "sdist broken")
    assert (await _yanks(store, CORP))["corp-1.0-py3-none-any.whl"] is False
    await yank(store, CORP, V1, "corp-1.0.tar.gz", "really broken")
    assert (await _yanks(store, CORP))["corp-1.0.tar.gz"] == "really broken"


async def test_yank__mirrored_kept_across_syncs_and_upstream_yanks_kept(
    store: BlobStore,
) -> None:
    await _mirror(store, _upstream_page())
    await yank(store, UP, V1, None, "ours")
    ours = {
        "upstream_lib-1.0.tar.gz": "upstream says no",
        "upstream_lib-1.0-py3-none-any.whl": "ours",
    }
    assert await _yanks(store, UP) == ours
    await _mirror(store, _upstream_page())  # the next sync rebuilds the page from upstream
    assert await _yanks(store, UP) == ours

    await unyank(store, UP, V1, None)
    assert await _yanks(store, UP) == {
        "upstream_lib-1.0.tar.gz": "upstream says no",  # upstream's, so it stays
        "upstream_lib-1.0-py3-none-any.whl": False,
    }
    with pytest.raises(OperationRefused, match="upstream yanked it"):
        await unyank(store, UP, V1, "upstream_lib-1.0.tar.gz")


async def test_yank__outlives_an_upstream_unyank(store: BlobStore) -> None:
    await _mirror(store, _upstream_page())
    await yank(store, UP, V1, "upstream_lib-1.0.tar.gz", "ours too")
    await _mirror(store, _upstream_page(a_yanked=False))  # upstream takes its yank back
    assert (await _yanks(store, UP))["upstream_lib-1.0.tar.gz"] == "ours too"
    await unyank(store, UP, V1, "upstream_lib-1.0.tar.gz")
    assert (await _yanks(store, UP))["upstream_lib-1.0.tar.gz"] is False


async def test_yank__refusals_change_nothing(store: BlobStore, tmp_path: Path) -> None:
    await _publish(store, tmp_path)
    before = await _listing(store)
    with pytest.raises(ProjectNotFound, match="no project 'nope'"):
        await yank(store, canonicalize_name("nope"), V1, None, "x")
    with pytest.raises(ProjectNotFound, match="corp==3.0 has no files"):
        await yank(store, CORP, Version("3.0"), None, "x")
    with pytest.raises(ProjectNotFound, match="has no file 'corp-1.0.zip'"):
        await yank(store, CORP, V1, "corp-1.0.zip", "x")
    with pytest.raises(OperationRefused, match="needs a reason"):
        await yank(store, CORP, V1, None, "  ")
    with pytest.raises(OperationRefused, match="no yank of blobpi's own"):
        await unyank(store, CORP, V1, None)
    assert await _listing(store) == before


async def _yes(files: list[File]) -> bool:
    return True


async def _no(files: list[File]) -> bool:
    return False


async def test_delete__a_file_then_the_last_release(store: BlobStore, tmp_path: Path) -> None:
    files = await _publish(store, tmp_path)
    await yank(store, CORP, V1, None, "broken")
    wheel = files["corp-1.0-py3-none-any.whl"]
    deleted = await delete(store, CORP, V1, wheel.filename, _yes)
    assert [f.filename for f in deleted] == [wheel.filename]
    page = await read_project(store, CORP)
    assert page is not None and wheel.filename not in {f.filename for f in page.files}
    assert page.versions == ("1.0", "2.0")  # the sdist of 1.0 is still there
    assert wheel.blob_path is not None
    for path in (wheel.blob_path, wheel.blob_path + ".metadata"):
        with pytest.raises(BlobNotFound):
            await store.head(path)
    assert (await read_yanks(store, CORP))[0] == {"corp-1.0.tar.gz": "broken"}

    await delete(store, CORP, V1, None, _yes)
    page = await read_project(store, CORP)
    assert page is not None and page.versions == ("2.0",)
    await delete(store, CORP, Version("2.0"), None, _yes)
    assert await read_project(store, CORP) is None  # the name is free again
    assert CORP not in (await read_projects(store)).projects
    assert [b.path async for b in store.list("packages/")] == []
    # A deleted filename is never used again, not even for the same project name reborn.
    rebuilt = build_wheel(tmp_path / "again", "corp", "1.0", payload_bytes=64)
    with rebuilt.open("rb") as f, pytest.raises(UploadConflict, match="never used again"):
        await publish(store, rebuilt.name, f, max_bytes=1 << 20)
    assert await read_project(store, CORP) is None


async def test_delete__refusals_change_nothing(store: BlobStore, tmp_path: Path) -> None:
    await _publish(store, tmp_path)
    await _mirror(store, _upstream_page())
    before = await _listing(store)
    with pytest.raises(OperationRefused, match="mirrored, and delete removes private files only"):
        await delete(store, UP, V1, None, _yes)
    assert await delete(store, CORP, V1, None, _no) == []  # not confirmed
    assert await _listing(store) == before


def test_yank__cli(
    store_spec: StoreSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def _setup() -> dict[str, str]:
        store = store_spec.open()
        try:
            await store.ensure()
            await _publish(store, tmp_path)
            return await _listing(store)
        finally:
            await store.close()

    def blobpi(*args: str) -> int:
        return main([*args, "--storage", store_spec.spec], store_spec.environ)

    before = anyio.run(_setup)
    assert blobpi("yank", "corp", "--reason", "x") == 1
    assert "is not PROJECT==VERSION" in capsys.readouterr().err
    assert blobpi("delete", "corp==1.0") == 1  # stdin is not a terminal: no confirmation
    assert "rerun with --yes" in capsys.readouterr().err
    assert anyio.run(_listing_of, store_spec) == before

    assert blobpi("yank", "Corp==1.0", "--file", "corp-1.0.tar.gz", "--reason", "bad") == 0
    assert capsys.readouterr().out == "yanked corp-1.0.tar.gz\n"
    assert blobpi("unyank", "corp==1.0") == 0
    assert capsys.readouterr().out == "unyanked corp-1.0.tar.gz\n"
    assert blobpi("delete", "corp==2.0", "--yes") == 0
    assert capsys.readouterr().out == "deleted corp-2.0-py3-none-any.whl\n"


async def _listing_of(spec: StoreSpec) -> dict[str, str]:
    store = spec.open()
    try:
        return await _listing(store)
    finally:
        await store.close()
