"""The pages, field by field, against PEP 503/592/629/658/691/700/714/740."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html.parser
import json
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.core.model import File, ProjectList, ProjectPage, Status
from blobpi.mirror.core.render import (
    render_index_html,
    render_index_json,
    render_project_html,
    render_project_json,
)

UPLOADED = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
WHEEL = File.stored(
    "packages/ab/cd/ef/demo-1.0-py3-none-any.whl",
    filename="demo-1.0-py3-none-any.whl",
    hashes={"sha256": "a" * 64},
    requires_python=">=3.8,<4",
    size=1234,
    upload_time=UPLOADED,
    core_metadata={"sha256": "b" * 64},
)
SDIST = File.stored(
    "packages/12/34/56/demo-1.0.tar.gz",
    filename="demo-1.0.tar.gz",
    hashes={"sha256": "c" * 64},
    size=99,
    upload_time=UPLOADED,
    yanked='broken <build> & "quoted"',
)
BARE_YANK = File(
    "demo-0.9.tar.gz",
    "https://example.invalid/demo-0.9.tar.gz",
    {"sha256": "d" * 64},
    yanked=True,
    size=5,
    provenance="https://example.invalid/p",
)
PAGE = ProjectPage.build(
    canonicalize_name("demo"), [WHEEL, SDIST, BARE_YANK], ["1.0", "0.9", "2.0a1"]
)


def _json_files() -> dict[str, dict[str, Any]]:
    doc = json.loads(render_project_json(PAGE))
    return {f["filename"]: f for f in doc["files"]}


def test_render_project_json__document_keys() -> None:
    doc = json.loads(render_project_json(PAGE))
    assert doc["meta"] == {"api-version": "1.4"}
    assert doc["name"] == "demo"
    assert doc["versions"] == ["0.9", "1.0", "2.0a1"]  # PEP 700: PEP 440 order
    assert [f["filename"] for f in doc["files"]] == sorted(_json_files())


@pytest.mark.parametrize(
    ("filename", "key", "expected"),
    [
        ("demo-1.0-py3-none-any.whl", "url", "../../packages/ab/cd/ef/demo-1.0-py3-none-any.whl"),
        ("demo-1.0-py3-none-any.whl", "hashes", {"sha256": "a" * 64}),
        ("demo-1.0-py3-none-any.whl", "requires-python", ">=3.8,<4"),
        ("demo-1.0-py3-none-any.whl", "size", 1234),
        ("demo-1.0-py3-none-any.whl", "upload-time", "2024-05-06T07:08:09.123456Z"),
        ("demo-1.0-py3-none-any.whl", "yanked", False),
        ("demo-1.0-py3-none-any.whl", "core-metadata", {"sha256": "b" * 64}),  # PEP 714
        ("demo-1.0-py3-none-any.whl", "dist-info-metadata", {"sha256": "b" * 64}),  # PEP 658
        ("demo-1.0.tar.gz", "yanked", 'broken <build> & "quoted"'),  # PEP 592 reason
        ("demo-1.0.tar.gz", "requires-python", None),
        ("demo-0.9.tar.gz", "yanked", True),
        ("demo-0.9.tar.gz", "upload-time", None),
        ("demo-0.9.tar.gz", "provenance", "https://example.invalid/p"),  # PEP 740
    ],
)
def test_render_project_json__file_fields(filename: str, key: str, expected: object) -> None:
    assert _json_files()[filename][key] == expected


@pytest.mark.parametrize(
    ("filename", "absent"),
    [
        ("demo-1.0.tar.gz", "core-metadata"),
        ("demo-1.0.tar.gz", "dist-info-metadata"),
        ("demo-1.0-py3-none-any.whl", "provenance"),
    ],
)
def test_render_project_json__omits_absent_optional_keys(filename: str, absent: str) -> None:
    assert absent not in _json_files()[filename]


def test_render_project_json__roundtrips_through_the_model() -> None:
    assert ProjectPage.from_json(json.loads(render_project_json(PAGE))) == PAGE


class _Anchors(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self.meta: dict[str, str | None] = {}
        self._attrs: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._attrs = dict(attrs)
        elif tag == "meta":
            self.meta = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._attrs is not None:
            self.anchors.append((self._attrs, data))
            self._attrs = None


def _html_anchors() -> dict[str, dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(render_project_html(PAGE).decode())
    return {text: attrs for attrs, text in parser.anchors}


def test_render_project_html__repository_version_meta() -> None:
    parser = _Anchors()
    parser.feed(render_project_html(PAGE).decode())
    assert parser.meta == {"name": "pypi:repository-version", "content": "1.4"}  # PEP 629


@pytest.mark.parametrize(
    ("filename", "attr", "expected"),
    [
        (
            "demo-1.0-py3-none-any.whl",
            "href",
            "../../packages/ab/cd/ef/demo-1.0-py3-none-any.whl#sha256=" + "a" * 64,
        ),
        ("demo-1.0-py3-none-any.whl", "data-requires-python", ">=3.8,<4"),  # unescaped by parser
        ("demo-1.0-py3-none-any.whl", "data-core-metadata", "sha256=" + "b" * 64),
        ("demo-1.0-py3-none-any.whl", "data-dist-info-metadata", "sha256=" + "b" * 64),
        ("demo-1.0-py3-none-any.whl", "data-yanked", None),
        ("demo-1.0.tar.gz", "data-yanked", 'broken <build> & "quoted"'),
        ("demo-1.0.tar.gz", "data-core-metadata", None),
        ("demo-0.9.tar.gz", "data-yanked", ""),  # PEP 592: yanked without a reason
        ("demo-0.9.tar.gz", "data-provenance", "https://example.invalid/p"),
    ],
)
def test_render_project_html__anchor_attributes(
    filename: str, attr: str, expected: str | None
) -> None:
    attrs = _html_anchors()[filename]
    if expected is None:
        assert attr not in attrs
    else:
        assert attrs[attr] == expected


def test_render_project_html__escapes_user_input() -> None:
    body = render_project_html(PAGE).decode()
    assert "<build>" not in body
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in body


def test_render_index__both_formats_list_every_project() -> None:
    projects = ProjectList.of(canonicalize_name(n) for n in ["b", "a-b", "a"])
    doc = json.loads(render_index_json(projects))
    assert doc == {
        "meta": {"api-version": "1.4"},
        "projects": [{"name": "a"}, {"name": "a-b"}, {"name": "b"}],
    }
    parser = _Anchors()
    parser.feed(render_index_html(projects).decode())
    assert [(a["href"], text) for a, text in parser.anchors] == [
        ("a/", "a"),
        ("a-b/", "a-b"),
        ("b/", "b"),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [{"yanked": ""}, {"size": -1}, {"upload_time": dt.datetime(2024, 1, 1)}],
)
def test_file__rejects_invalid_fields(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        File("a-1.tar.gz", "u", {}, **kwargs)


def test_project_page__rejects_unnormalized_and_duplicate() -> None:
    with pytest.raises(ValueError):
        ProjectPage(name="Demo")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ProjectPage(name="demo", files=(WHEEL, WHEEL))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "reason"),
    [("archived", "moved to demo2"), ("deprecated", None), ("quarantined", "malware <script>")],
)
def test_render__pep792_status_read_by_an_independent_client(
    status: Status, reason: str | None
) -> None:
    import pypi_simple

    files = () if status == "quarantined" else PAGE.files
    page = dataclasses.replace(PAGE, files=files, status=status, status_reason=reason)
    from_json = pypi_simple.ProjectPage.from_json_data(
        json.loads(render_project_json(page)), "https://idx/simple/demo/"
    )
    from_html = pypi_simple.ProjectPage.from_html(
        "demo", render_project_html(page), "https://idx/simple/demo/"
    )
    for parsed in (from_json, from_html):
        assert (str(parsed.status), parsed.status_reason) == (status, reason)
        assert parsed.repository_version == "1.4"
    # PEP 792's field names, as the spec spells them
    document = json.loads(render_project_json(page))
    assert document["project-status"] == {
        "status": status,
        **({"reason": reason} if reason else {}),
    }
    assert ProjectPage.from_json(document) == page  # the page is its own record


def test_render__active_has_no_status_marker() -> None:
    assert b"project-status" not in render_project_json(PAGE)
    assert b"pypi:project-status" not in render_project_html(PAGE)


def test_project_page__quarantined_lists_no_files() -> None:
    with pytest.raises(ValueError, match="quarantined 'demo' must list no files"):
        dataclasses.replace(PAGE, status="quarantined")
