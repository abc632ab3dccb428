"""``blobpi.mirror.core.layout``: every container path; hostile names and paths refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.layout import (
    check_blob_path,
    content_path,
    file_blobs,
    file_link,
    file_name,
    lease_path,
    linked_path,
    metadata_path,
    metadata_url,
    mirror_path,
    osv_archive_path,
    osv_source_path,
    package_path,
    page_path,
    provenance_path,
    report_path,
    shard_suffix,
    status_path,
    sync_state_path,
    tokens_path,
    tombstones_path,
    yanks_path,
)
from blobpi.mirror.core.negotiate import Format

DEMO = canonicalize_name("demo")
DIGEST = "0123456789abcdef" * 4
FILE = f"packages/01/23/{DIGEST[4:]}/demo-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (content_path(DIGEST, "demo-1.0-py3-none-any.whl"), FILE),
        (metadata_path(FILE), FILE + ".metadata"),
        (provenance_path(FILE), FILE + ".provenance"),
        (page_path(DEMO, Format.JSON), "simple/demo/index.v1_json"),
        (page_path(DEMO, Format.HTML), "simple/demo/index.v1_html"),
        (page_path(DEMO, Format.LEGACY_HTML), "simple/demo/index.v1_html"),
        (page_path(None, Format.JSON), "simple/index.v1_json"),
        (page_path(None, Format.HTML), "simple/index.v1_html"),
        (yanks_path(DEMO), "state/yanks/demo.json"),
        (tombstones_path(DEMO), "state/deleted/demo.json"),
        (status_path(DEMO), "state/status/demo.json"),
        (osv_archive_path(), "state/osv/all.zip"),
        (osv_source_path(), "state/osv/source.json"),
        (tokens_path(), "state/tokens.json"),
        (sync_state_path(), "state/sync.json"),
        (sync_state_path("-2-of-3"), "state/sync-2-of-3.json"),
        (report_path(), "state/report.json"),
        (report_path("-2-of-3"), "state/report-2-of-3.json"),
        (lease_path(), "state/sync.lock"),
        (lease_path("-2-of-3"), "state/sync-2-of-3.lock"),
        (package_path("ab/cd/x-1.0.tar.gz"), "packages/ab/cd/x-1.0.tar.gz"),
    ],
)
def test_layout__each_path(built: str, expected: str) -> None:
    assert built == expected


def test_file_blobs__file_and_sidecars() -> None:
    assert file_blobs(FILE) == (FILE, FILE + ".metadata", FILE + ".provenance")


def test_metadata_url__pep_658() -> None:
    assert metadata_url("https://h/p/x-1.0.tar.gz") == "https://h/p/x-1.0.tar.gz.metadata"


@pytest.mark.parametrize(
    ("index", "count", "suffix"), [(1, 1, ""), (1, 2, "-1-of-2"), (4, 4, "-4-of-4")]
)
def test_shard_suffix__names_the_shard(index: int, count: int, suffix: str) -> None:
    assert shard_suffix(index, count) == suffix


@pytest.mark.parametrize(("index", "count"), [(0, 1), (3, 2), (-1, 2)])
def test_shard_suffix__rejects_impossible_shards(index: int, count: int) -> None:
    with pytest.raises(InvalidName):
        shard_suffix(index, count)


@pytest.mark.parametrize("filename", ["x-1.0+local.tar.gz", "x-2!1.0-py3-none-any.whl"])
def test_file_link__round_trips(filename: str) -> None:
    path = content_path(DIGEST, filename)
    link = file_link(path)
    assert link.startswith("../../packages/") and "+" not in link and "!" not in link
    assert linked_path(link) == path


@pytest.mark.parametrize(
    "url", ["https://h/packages/ab/x-1.0.tar.gz", "../../simple/x/", "packages/x-1.0.tar.gz"]
)
def test_linked_path__none_for_other_urls(url: str) -> None:
    assert linked_path(url) is None


@pytest.mark.parametrize(
    ("path", "filename"),
    [
        ("/packages/a/b/x-1.0.tar.gz", "x-1.0.tar.gz"),
        ("/packages/a/b/x-1.0-py3-none-any.whl.metadata", "x-1.0-py3-none-any.whl"),
        ("/packages/a/b/x-1.0-py3-none-any.whl.provenance", "x-1.0-py3-none-any.whl"),
    ],
)
def test_file_name__sidecars_name_their_file(path: str, filename: str) -> None:
    assert file_name(path) == filename


def test_content_path__splits_digest() -> None:
    assert content_path(DIGEST, "a-1.0.tar.gz") == f"packages/01/23/{DIGEST[4:]}/a-1.0.tar.gz"
    with pytest.raises(InvalidName):
        content_path("zz" * 32, "a-1.0.tar.gz")


@pytest.mark.parametrize(
    ("url", "expected_prefix"),
    [
        (f"https://h/packages/ab/cd/{'e' * 60}/x-1.tar.gz", f"packages/ab/cd/{'e' * 60}/"),
        ("https://h/files/x-1.tar.gz", f"packages/00/00/{'0' * 60}/"),
        (f"https://h/packages/ab/cd/{'e' * 60}/other-1.tar.gz", f"packages/00/00/{'0' * 60}/"),
        (f"https://h/packages/ab/cd/{'e' * 60}/..%2fx-1.tar.gz", f"packages/00/00/{'0' * 60}/"),
    ],
)
def test_mirror_path__upstream_shape_or_content_path(url: str, expected_prefix: str) -> None:
    assert mirror_path(url, "x-1.tar.gz", "0" * 64) == expected_prefix + "x-1.tar.gz"


@pytest.mark.parametrize(
    "path",
    [
        "packages/../simple/index.v1_json",
        "packages/a//b",
        "packages/./a",
        "packages/a\0b",
        "packages/a\\b",
        "state/sync.lock",
        "packages",
        "packages/" + "a" * 1100,
        "packages/a%2fb",
    ],
)
def test_check_blob_path__rejects(path: str) -> None:
    with pytest.raises(InvalidName):
        check_blob_path(path)


@pytest.mark.parametrize("rest", ["../state/tokens.json", "a/../../x", "a//b", "a%2fb", ""])
def test_package_path__rejects_hostile_request_paths(rest: str) -> None:
    with pytest.raises(InvalidName):
        package_path(rest)


HOSTILE_PROJECTS = ["..", "../x", "a/b", "a\0b", "Demo", "demo_pkg", "", "x" * 201, "é"]


@pytest.mark.parametrize(
    "build",
    [
        lambda p: page_path(p, Format.JSON),
        lambda p: page_path(p, Format.HTML),
        yanks_path,
        tombstones_path,
    ],
    ids=["page-json", "page-html", "yanks", "tombstones"],
)
@pytest.mark.parametrize("project", HOSTILE_PROJECTS)
def test_project_paths__refuse_hostile_or_unnormalized_names(
    build: Callable[[NormalizedName], str], project: str
) -> None:
    with pytest.raises(InvalidName):
        build(NormalizedName(project))  # as if a caller skipped names.project_name


@pytest.mark.parametrize("build", [sync_state_path, report_path, lease_path])
@pytest.mark.parametrize("suffix", ["/../x", "-1-of-", "-0-of-2", "x", "-1-of-2/"])
def test_shard_paths__refuse_other_suffixes(build: Callable[[str], str], suffix: str) -> None:
    with pytest.raises(InvalidName):
        build(suffix)


@pytest.mark.parametrize("file_path", ["simple/demo/index.v1_json", "packages/../x", "state/x"])
def test_sidecar_paths__only_beside_package_files(file_path: str) -> None:
    for build in (metadata_path, provenance_path, file_blobs):
        with pytest.raises(InvalidName):
            build(file_path)
