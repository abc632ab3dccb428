"""``mirror.core.statuspage``: the status pages escape every value, filter, and chart."""

from __future__ import annotations

import datetime as dt

from packaging.utils import canonicalize_name

from blobpi.mirror.core.history import SyncRun
from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.core.statuspage import (
    ProjectRow,
    human_size,
    render_overview,
    render_project,
    row_of,
)

URL = "http://idx.test/simple/"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _rows() -> list[ProjectRow]:
    return [ProjectRow("alpha", 2, 3, 3000, "2.0", False), ProjectRow("beta", 1, 1, 10, "1", True)]


def test_statuspage__overview_filters_and_escapes_the_query() -> None:
    body = render_overview(_rows(), [], URL, query='al<script>"').decode()
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert 'href="project/alpha/"' not in body  # 'al<script>"' matches nothing
    body = render_overview(_rows(), [], URL, query="alp").decode()
    assert 'href="project/alpha/"' in body and 'href="project/beta/"' not in body
    assert "1 of 2 projects match &#x27;alp&#x27;" in body
    assert "2 projects, 3 versions, 4 files, 3.0 kB" in body  # totals of the whole index


def test_statuspage__runs_table_and_chart() -> None:
    runs = [
        SyncRun("1/1", T0, ok=True, files_total=2, bytes_total=100),
        SyncRun(
            "1/1",
            T0 + dt.timedelta(days=1),
            ok=False,
            failures=("<b>x</b>",),
            failed=1,
            files_total=4,
            bytes_total=300,
        ),
    ]
    body = render_overview(_rows(), runs, URL).decode()
    assert body.count("<polyline") == 2 and "over the last 2 syncs" in body
    assert "&lt;b&gt;x&lt;/b&gt;" in body and '<span class="bad">failed</span>' in body
    assert "No sync has run yet" in render_overview(_rows(), [], URL).decode()


def test_statuspage__project_page() -> None:
    page = ProjectPage.build(
        canonicalize_name("demo"),
        [
            File(
                "demo-1.0.tar.gz",
                "u",
                {"sha256": "ab" * 32},
                size=1500,
                upload_time=T0,
                yanked="bad <i>build</i>",
            ),
            File(
                "demo-2.0.tar.gz",
                "u",
                {"sha256": "cd" * 32},
                size=None,
                upload_time=T0 + dt.timedelta(days=1),
            ),
        ],
        ["1.0", "2.0"],
    )
    body = render_project(page, URL).decode()
    assert f"pip install --index-url {URL} demo" in body
    assert "yanked: bad &lt;i&gt;build&lt;/i&gt;" in body
    assert body.index("demo-2.0.tar.gz") < body.index("demo-1.0.tar.gz")  # newest first
    assert row_of(page) == ProjectRow("demo", 2, 2, 1500, "2.0", False)


def test_statuspage__human_size() -> None:
    assert [human_size(n) for n in (0, 1000, 1_500_000, 2 * 10**9)] == [
        "0 B",
        "1.0 kB",
        "1.5 MB",
        "2.0 GB",
    ]
