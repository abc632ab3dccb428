"""Names (mirror/core/names.py): PEP 503 canonical names, distribution filenames, blob paths."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.names import parse_distribution_filename, project_name


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
