"""Hostile input as properties (Hypothesis): for any text in any field that reaches a page,
the HTML holds only blobpi's markup and gives the value back exactly; for any path, Accept
or Range header, the server answers without a 5xx and without a byte from outside the
store. The example counts are quoted in docs/guarantees.md."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blobpi.mirror.core.http import Unsatisfiable, parse_range
from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.core.negotiate import select_format
from blobpi.mirror.core.render import project_html_from_json, render_project_json
from tests.integration.test_hostile_input import Index, _assert_safe, _raw, _wire, call, index
from tests.support.markup import check_markup

__all__ = ["index"]  # the module-scoped fixture, shared with the table-driven suite
EXAMPLES = 300  # per property
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=60)
_SERVER = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append((dict(attrs), ""))
            self._open = True

    def handle_endtag(self, tag: str) -> None:
        self._open = self._open and tag != "a"

    def handle_data(self, data: str) -> None:
        if self._open:
            attrs, text = self.anchors[-1]
            self.anchors[-1] = (attrs, text + data)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    filename=_TEXT,
    requires_python=_TEXT,
    yanked=_TEXT,
    provenance=_TEXT,
    digest=_TEXT,
)
def test_properties__any_metadata_renders_as_inert_exact_text(
    filename: str, requires_python: str, yanked: str, provenance: str, digest: str
) -> None:
    file = File(
        filename=filename,
        url="../../packages/aa/bb/x",
        hashes={"sha256": digest},
        requires_python=requires_python,
        yanked=yanked,
        size=1,
        upload_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        core_metadata={"sha256": digest},
        provenance=provenance,
    )
    page = ProjectPage.build("p", [file], ["1.0"])  # type: ignore[arg-type]
    html = project_html_from_json(render_project_json(page)).decode()
    check_markup(html)
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    [(attrs, text)] = parser.anchors

    # What a resolver reads back is exactly what was stored, whatever the characters
    # (HTML parsing turns CR and CRLF into LF, as browsers and pip's parser do).
    def same(value: str | None, expected: str) -> bool:
        return value == expected.replace("\r\n", "\n").replace("\r", "\n") or value == expected

    assert same(attrs["data-requires-python"], requires_python)
    assert same(attrs["data-yanked"], yanked)
    assert same(attrs["data-provenance"], provenance)
    assert same(attrs["href"], f"../../packages/aa/bb/x#sha256={digest}")
    assert same(text, filename)


@_SERVER
@given(segment=_TEXT)
def test_properties__any_path_segment_is_answered_safely(index: Index, segment: str) -> None:
    for path in (f"/simple/{segment}/", f"/packages/{segment}", f"/packages/aa/{segment}/x"):
        answer = call(index, _raw(path))
        _assert_safe(answer)
        assert answer.status in (301, 404, 200), answer


@_SERVER
@given(accept=st.text(max_size=200), byte_range=st.text(max_size=60))
def test_properties__any_accept_and_range_is_answered_safely(
    index: Index, accept: str, byte_range: str
) -> None:
    assert index.wheel.blob_path is not None
    headers = [(b"accept", _wire(accept)), (b"range", _wire(byte_range))]
    page = call(index, b"/simple/demo/", headers=headers)
    _assert_safe(page)
    assert page.status in (200, 406)
    download = call(index, f"/{index.wheel.blob_path}".encode(), headers=headers)
    _assert_safe(download)
    assert download.status in (200, 206, 416)


@settings(max_examples=EXAMPLES * 10, deadline=None)
@given(header=st.text(max_size=80), size=st.integers(min_value=1, max_value=2**40))
def test_properties__parse_range_and_select_format_are_total(header: str, size: int) -> None:
    try:
        parsed = parse_range(header, size)
    except Unsatisfiable:
        parsed = None
    if parsed is not None:
        start, end = parsed
        assert 0 <= start <= end < size
    select_format(header, None)  # never raises: a format, or None (406)
