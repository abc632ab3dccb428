"""Names (mirror/core/names.py): PEP 503 canonical names, distribution filenames, blob paths."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.names import (
    check_blob_path,
    content_path,
    parse_distribution_filename,
    project_name,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Django", "django"),
        ("ruamel.yaml", "ruamel-yaml"),
        ("Foo__Bar", "foo-bar"),
        ("a", "a"),
        ("zope.interface", "zope-interface"),
    ],
)
def test_project_name__canonicalizes(raw: str, expected: str) -> None:
    assert project_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "..", "../etc", "a/b", "a\\b", "a\0b", "-a", "a-", "a b", "<script>", "x" * 201, "é"],
)
def test_project_name__rejects_hostile(raw: str) -> None:
    with pytest.raises(InvalidName):
        project_name(raw)


@pytest.mark.parametrize(
    ("filename", "name", "version", "kind"),
    [
        ("Foo_Bar-1.0-py3-none-any.whl", "foo-bar", "1.0", "wheel"),
        (
            "numpy-2.2.6-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy",
            "2.2.6",
            "wheel",
        ),
        ("foo-1.0+local.1-py3-none-any.whl", "foo", "1.0+local.1", "wheel"),
        ("foo-1.0.tar.gz", "foo", "1.0", "sdist"),
        ("Foo.Bar-2!1.0.zip", "foo-bar", "2!1.0", "sdist"),
    ],
)
def test_parse_distribution_filename__valid(
    filename: str, name: str, version: str, kind: str
) -> None:
    dist = parse_distribution_filename(filename)
    assert (dist.name, str(dist.version), dist.kind) == (name, version, kind)


@pytest.mark.parametrize(
    "filename",
    [
        "../foo-1.0.tar.gz",
        "foo/../../x-1.0.tar.gz",
        "foo-1.0.tar.gz\0.whl",
        ".foo-1.0.tar.gz",
        "foo-1.0.exe",
        "foo-1.0-py3-none-any.whl" + "x" * 300,
        "foo-notaversion-py3-none-any.whl",
        "foo 1.0.tar.gz",
        "<b>-1.0.tar.gz",
    ],
)
def test_parse_distribution_filename__rejects(filename: str) -> None:
    with pytest.raises(InvalidName):
        parse_distribution_filename(filename)


def test_content_path__splits_digest() -> None:
    digest = "0123456789abcdef" * 4
    assert content_path(digest, "a-1.0.tar.gz") == (f"packages/01/23/{digest[4:]}/a-1.0.tar.gz")
    with pytest.raises(InvalidName):
        content_path("zz" * 32, "a-1.0.tar.gz")


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
