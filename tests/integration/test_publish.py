"""``publish`` (behind ``blobpi upload``) on both stores: checks, idempotence, pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from blobpi.mirror.core.errors import InvalidName, UploadConflict, UploadRejected
from blobpi.mirror.core.model import ProjectPage
from blobpi.mirror.ops.publish import Batch, publish
from blobpi.mirror.ops.retraction import delete
from blobpi.mirror.store.pages import read_project, read_projects, update_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.io.report import CountingStore
from tests.support.dists import build_sdist, build_wheel, metadata_text

pytestmark = pytest.mark.anyio
LIMIT = 10 * 1024 * 1024


async def _publish(store: BlobStore, path: Path, name: str | None = None) -> bool:
    with path.open("rb") as f:
        return (await publish(store, name or path.name, f, max_bytes=LIMIT)).created


async def _listing(store: BlobStore) -> dict[str, str]:
    return {info.path: info.etag async for info in store.list()}


async def test_publish__wheel_and_sdist_make_pages(store: BlobStore, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "Demo.Pkg", "1.0", requires_python=">=3.8")
    sdist = build_sdist(tmp_path, "Demo.Pkg", "1.0")
    assert await _publish(store, wheel) and await _publish(store, sdist)
    page = await read_project(store, canonicalize_name("demo-pkg"))
    assert page is not None and page.origin == "private"
    assert [f.filename for f in page.files] == sorted([sdist.name, wheel.name])
    whl = page.file(wheel.name)
    assert whl is not None and whl.requires_python == ">=3.8" and whl.size == wheel.stat().st_size
    assert whl.blob_path is not None
    metadata = await store.get(whl.blob_path + ".metadata")
    assert metadata is not None and b"Name: Demo.Pkg" in metadata.data
    assert isinstance(whl.core_metadata, dict)
    assert (await read_projects(store)).projects == ("demo-pkg",)
    html_page = await store.get("simple/demo-pkg/index.v1_html")
    assert html_page is not None and wheel.name.encode() in html_page.data


async def test_publish__same_bytes_again_is_idempotent(store: BlobStore, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0")
    assert await _publish(store, wheel)
    before = await _listing(store)
    assert not await _publish(store, wheel)
    assert await _listing(store) == before


async def test_publish__refuses_different_bytes_same_name(store: BlobStore, tmp_path: Path) -> None:
    await _publish(store, build_wheel(tmp_path / "a", "demo", "1.0"))
    before = await _listing(store)
    other = build_wheel(tmp_path / "b", "demo", "1.0", payload_bytes=10)
    with pytest.raises(UploadRejected, match="never replaced"):
        await _publish(store, other)
    assert await _listing(store) == before


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        (metadata_text("other", "1.0"), "names the project 'other'"),
        (metadata_text("demo", "2.0"), "says version '2.0'"),
        (metadata_text("demo", "1.0", requires_python="<script>"), "not a valid version spec"),
        ("Metadata-Version: 2.1\n", "no Name"),
    ],
)
async def test_publish__refuses_metadata_that_disagrees(
    store: BlobStore, tmp_path: Path, metadata: str, match: str
) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0", metadata=metadata)
    with pytest.raises(UploadRejected, match=match):
        await _publish(store, wheel)
    assert await _listing(store) == {}


@pytest.mark.parametrize("name", ["../demo-1.0.tar.gz", "demo-1.0.exe", "x\0-1.0.tar.gz"])
async def test_publish__refuses_hostile_filenames(
    store: BlobStore, tmp_path: Path, name: str
) -> None:
    sdist = build_sdist(tmp_path, "demo", "1.0")
    with pytest.raises(InvalidName):
        await _publish(store, sdist, name=name)
    assert await _listing(store) == {}


async def test_publish__refuses_a_mirrored_name(store: BlobStore, tmp_path: Path) -> None:
    demo = canonicalize_name("demo")
    await update_project(store, demo, lambda _: ProjectPage(name=demo, origin="mirror"))
    before = await _listing(store)
    with pytest.raises(UploadRejected, match="dependency confusion"):
        await _publish(store, build_wheel(tmp_path, "demo", "1.0"))
    assert await _listing(store) == before


async def test_publish__refuses_oversize(store: BlobStore, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0", payload_bytes=2000)
    with wheel.open("rb") as f, pytest.raises(UploadRejected, match="over the limit"):
        await publish(store, wheel.name, f, max_bytes=1000)
    assert await _listing(store) == {}


async def test_publish__second_version_keeps_the_first(store: BlobStore, tmp_path: Path) -> None:
    await _publish(store, build_wheel(tmp_path, "demo", "1.0"))
    await _publish(store, build_wheel(tmp_path, "demo", "1.1"))
    blob = await store.get("simple/demo/index.v1_json")
    assert blob is not None
    doc = json.loads(blob.data)
    assert doc["versions"] == ["1.0", "1.1"]
    assert len(doc["files"]) == 2


async def test_batch__renders_each_page_once(store: BlobStore, tmp_path: Path) -> None:
    wheels = [build_wheel(tmp_path / n, n, f"1.{i}") for n in ("alpha", "beta") for i in range(6)]
    counting = CountingStore(store)
    batch = Batch(counting, max_bytes=LIMIT)
    for path in wheels:
        with path.open("rb") as f:
            assert (await batch.add(path.name, f)).created
    assert counting.writes == 2 * len(wheels)  # the file and its .metadata; no page yet
    await batch.commit()
    # per project its HTML and JSON page once, then the root's two: not once per file
    assert counting.writes == 2 * len(wheels) + 2 * 2 + 2
    for name in ("alpha", "beta"):
        page = await read_project(store, canonicalize_name(name))
        assert page is not None and len(page.files) == 6 and len(page.versions) == 6
    assert set((await read_projects(store)).projects) == {"alpha", "beta"}


async def test_batch__checks_files_against_the_batch_and_keeps_what_it_stored(
    store: BlobStore, tmp_path: Path
) -> None:
    first = build_wheel(tmp_path / "a", "demo", "1.0")
    other = build_wheel(tmp_path / "b", "demo", "1.0", payload_bytes=10)  # same name, new bytes
    batch = Batch(store, max_bytes=LIMIT)
    with first.open("rb") as f:
        assert (await batch.add(first.name, f)).created
    with first.open("rb") as f:
        assert not (await batch.add(first.name, f)).created  # the same bytes again: a no-op
    with other.open("rb") as f, pytest.raises(UploadConflict, match="different content"):
        await batch.add(other.name, f)
    assert await read_project(store, canonicalize_name("demo")) is None  # pages at commit
    await batch.commit()  # after a refusal too: what was stored before it is published
    page = await read_project(store, canonicalize_name("demo"))
    assert page is not None and [f.filename for f in page.files] == [first.name]
    later = build_wheel(tmp_path / "c", "demo", "2.0")
    with later.open("rb") as f:
        await batch.add(later.name, f)
    await batch.commit()  # a second commit adds to the page the first one wrote
    page = await read_project(store, canonicalize_name("demo"))
    assert page is not None and page.versions == ("1.0", "2.0")


@pytest.mark.parametrize(
    ("filename", "kind"),
    [
        ("Acme-1.0-py3-none-any.whl", "wheel"),
        ("acme-1.0.0-py3-none-any.whl", "wheel"),
        ("acme-1.0-1-py3-none-any.whl", "wheel"),
        ("acme-1.0-py2.py3-none-any.whl", "wheel"),
        ("ACME-1.0.tar.gz", "sdist"),
        ("acme-1.0.0.tar.gz", "sdist"),
    ],
)
async def test_publish__identity_not_filename_decides_uniqueness(
    store: BlobStore, tmp_path: Path, filename: str, kind: str
) -> None:
    """Issue 10, defect 5: a spelling of an existing distribution with other bytes (one
    whose METADATA requires another package) is refused, and nothing changes."""
    await _publish(store, build_wheel(tmp_path / "a", "acme", "1.0"))
    await _publish(store, build_sdist(tmp_path / "a", "acme", "1.0"))
    before = await _listing(store)
    version = "1.0.0" if "1.0.0" in filename else "1.0"
    build = build_wheel if kind == "wheel" else build_sdist
    evil = build(tmp_path / "b", "acme", version, requires=["evil"])
    with pytest.raises(UploadConflict, match="the same distribution"):
        await _publish(store, evil, filename)
    assert await _listing(store) == before


async def test_publish__a_deleted_distribution_is_never_stored_again(
    store: BlobStore, tmp_path: Path
) -> None:
    sdist = build_sdist(tmp_path / "a", "acme", "1.0")
    await _publish(store, sdist)
    await _publish(store, build_wheel(tmp_path / "a", "acme", "2.0"))

    async def _yes(_: object) -> bool:
        return True

    await delete(store, canonicalize_name("acme"), Version("1.0"), sdist.name, _yes)
    for filename in ("ACME-1.0.tar.gz", "acme-1.0.0.tar.gz", sdist.name):
        other = build_sdist(tmp_path / filename, "acme", "1.0", requires=["evil"])
        with pytest.raises(UploadConflict, match="deleted.*never used again"):
            await _publish(store, other, filename)


async def test_publish__a_distinct_platform_wheel_is_accepted(
    store: BlobStore, tmp_path: Path
) -> None:
    await _publish(store, build_wheel(tmp_path / "a", "acme", "1.0"))
    other = build_wheel(tmp_path / "b", "acme", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    assert await _publish(store, other)
