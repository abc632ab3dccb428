"""The status pages for people, rendered to HTML: what is mirrored, one page per project, the
last syncs with a chart, and copy-paste snippets for installers pointing at this server.

Pure: model values and the server's own URL in, bytes out. Plain HTML and CSS, no script:
the filter box is a form the server answers (``?q=``), the chart is inline SVG with the
same figures in a table beside it, and every value is escaped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from html import escape

from blobpi.mirror.core.history import SyncRun
from blobpi.mirror.core.model import ProjectPage

__all__ = ["ProjectRow", "human_size", "render_overview", "render_project", "row_of", "totals"]

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1b1b1b}
a{color:#0645ad}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ccc;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}code{font-size:.95em}
.bad{color:#a00000;font-weight:600}.ok{color:#035d03}.yank{color:#8a4b00}
svg{max-width:100%;height:auto}label{font-weight:600}input{font:inherit;padding:.2rem}
"""


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectRow:
    name: str
    versions: int
    files: int
    size: int
    latest: str
    private: bool


def row_of(page: ProjectPage) -> ProjectRow:
    """One line of the overview for a project page."""
    versions = page.versions  # PEP 440 order (ProjectPage.build)
    return ProjectRow(
        name=page.name,
        versions=len(versions),
        files=len(page.files),
        size=sum(f.size or 0 for f in page.files),
        latest=versions[-1] if versions else "",
        private=page.origin == "private",
    )


def totals(rows: Sequence[ProjectRow]) -> tuple[int, int, int]:
    """(versions, files, bytes) over ``rows``."""
    return (sum(r.versions for r in rows), sum(r.files for r in rows), sum(r.size for r in rows))


def human_size(size: int) -> str:
    """Bytes in a short decimal unit.

    >>> human_size(999), human_size(8_600_000)
    ('999 B', '8.6 MB')
    """
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "unknown"
    utc = value.astimezone(dt.UTC)
    return f'<time datetime="{utc.isoformat()}">{utc:%Y-%m-%d %H:%M} UTC</time>'


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    ).encode()


def _snippets(index_url: str, project: str = "NAME") -> str:
    u, p = escape(index_url), escape(project)
    blocks = [
        ("pip", f"pip install --index-url {u} {p}"),
        ("uv", f"uv pip install --default-index {u} {p}"),
        ("pip.conf (or pip.ini)", f"[global]\nindex-url = {u}"),
        ("pip-tools", f"pip-compile --generate-hashes --index-url {u} requirements.in"),
        (
            "Azure ML (the conda file's pip section; see blobpi azureml environment)",
            f"dependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - --index-url {u}\n    - {p}",
        ),
    ]
    return "".join(f"<h3>{title}</h3><pre><code>{code}</code></pre>" for title, code in blocks)


def _chart(runs: Sequence[SyncRun]) -> str:
    """Files and size of the whole index after each run: inline SVG, then the same numbers."""
    points: list[tuple[dt.datetime, int, int]] = []
    last: dict[str, SyncRun] = {}
    for run in sorted(runs, key=lambda r: r.finished):
        last[run.shard] = run
        shards = last.values()
        points.append(
            (run.finished, sum(r.files_total for r in shards), sum(r.bytes_total for r in shards))
        )
    if len(points) < 2:
        return "<p>The chart appears after two syncs.</p>"
    width, height = 300, 80
    svgs = []
    files = [p[1] for p in points]
    sizes = [p[2] for p in points]
    for values, colour, label, now in (
        (files, "#0645ad", "files", f"{files[-1]} files"),
        (sizes, "#a35200", "size", human_size(sizes[-1])),
    ):
        top = max(values) or 1
        xy = " ".join(
            f"{i * width / (len(values) - 1):.1f},{height - 4 - v * (height - 24) / top:.1f}"
            for i, v in enumerate(values)
        )
        svgs.append(
            f'<svg role="img" aria-label="{label} after each sync, now {escape(now)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
            f'<text x="0" y="14" font-size="13">{label}: {escape(now)}</text>'
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{xy}"/></svg>'
        )
    first, final = points[0], points[-1]
    summary = (
        f"From {first[1]} files ({human_size(first[2])}) on {first[0]:%Y-%m-%d} to "
        f"{final[1]} files ({human_size(final[2])}) on {final[0]:%Y-%m-%d}"
    )
    return (
        f"<figure>{' '.join(svgs)}<figcaption>The index over the last {len(points)} "
        f"syncs. {escape(summary)}.</figcaption></figure>"
    )


def _runs_table(runs: Sequence[SyncRun]) -> str:
    if not runs:
        return "<p>No sync has run yet: <code>blobpi sync</code> mirrors the allow-list.</p>"
    rows = []
    for run in sorted(runs, key=lambda r: r.finished, reverse=True)[:20]:
        outcome = '<span class="ok">ok</span>' if run.ok else '<span class="bad">failed</span>'
        failures = "".join(f"<li>{escape(m)}</li>" for m in run.failures)
        rows.append(
            f"<tr><td>{_when(run.finished)}</td><td>{escape(run.shard)}</td><td>{outcome}</td>"
            f'<td class="n">{run.added}</td><td class="n">{human_size(run.added_bytes)}</td>'
            f'<td class="n">{run.pruned}</td><td class="n">{run.removed_projects}</td>'
            f'<td class="n">{run.seconds:.1f} s</td>'
            f"<td>{run.failed} {f'<ul>{failures}</ul>' if failures else ''}</td></tr>"
        )
    head = (
        '<tr><th scope="col">finished</th><th scope="col">shard</th><th scope="col">outcome</th>'
        '<th scope="col" class="n">files added</th><th scope="col" class="n">bytes added</th>'
        '<th scope="col" class="n">pruned</th><th scope="col" class="n">projects removed</th>'
        '<th scope="col" class="n">took</th><th scope="col">failures</th></tr>'
    )
    return f"<table><caption>The last syncs, newest first</caption>{head}{''.join(rows)}</table>"


def render_overview(
    rows: Sequence[ProjectRow], runs: Sequence[SyncRun], index_url: str, query: str = ""
) -> bytes:
    """``/``: what is mirrored (filtered by ``query``), the last syncs, and the snippets."""
    shown = [r for r in rows if query.strip().lower() in r.name] if query.strip() else rows
    versions, files, size = totals(rows)
    table_rows = "".join(
        f'<tr><th scope="row"><a href="project/{escape(r.name)}/">{escape(r.name)}</a>'
        f"{' (private)' if r.private else ''}</th><td>{escape(r.latest)}</td>"
        f'<td class="n">{r.versions}</td><td class="n">{r.files}</td>'
        f'<td class="n">{human_size(r.size)}</td></tr>'
        for r in shown
    )
    matched = f"{len(shown)} of {len(rows)} projects match {query.strip()!r}" if query else ""
    body = (
        "<h1>blobpi</h1>"
        f"<p>{len(rows)} projects, {versions} versions, {files} files, {human_size(size)}. "
        f'Index URL: <code>{escape(index_url)}</code> (<a href="simple/">simple index</a>).</p>'
        '<nav aria-label="On this page"><a href="#projects">Projects</a> · '
        '<a href="#syncs">Syncs</a> · <a href="#use">Use this index</a></nav>'
        '<h2 id="projects">Projects</h2>'
        '<form method="get" action="" role="search"><label for="q">Filter projects</label> '
        f'<input id="q" name="q" type="search" value="{escape(query)}"> '
        f'<button type="submit">Filter</button></form><p aria-live="polite">{escape(matched)}</p>'
        '<table><caption>Mirrored and private projects</caption><tr><th scope="col">project</th>'
        '<th scope="col">latest</th><th scope="col" class="n">versions</th>'
        '<th scope="col" class="n">files</th><th scope="col" class="n">size</th></tr>'
        f"{table_rows}</table>"
        f'<h2 id="syncs">Syncs</h2>{_chart(runs)}{_runs_table(runs)}'
        f'<h2 id="use">Use this index</h2>{_snippets(index_url)}'
    )
    return _page("blobpi", body)


def render_project(page: ProjectPage, index_url: str) -> bytes:
    """``/project/<name>/``: its versions and files, with sizes, times, yanks and the line
    that installs it."""
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    files = sorted(page.files, key=lambda f: (f.upload_time or oldest, f.filename), reverse=True)
    rows = []
    for f in files:
        reason = f": {escape(f.yanked)}" if isinstance(f.yanked, str) else ""
        status = f'<span class="yank">yanked{reason}</span>' if f.yanked else "available"
        rows.append(
            f'<tr><th scope="row">{escape(f.filename)}</th>'
            f'<td class="n">{human_size(f.size or 0) if f.size is not None else "?"}</td>'
            f"<td>{_when(f.upload_time)}</td><td>{status}</td>"
            f"<td>{escape(f.requires_python or '')}</td>"
            f"<td><code>{escape((f.sha256 or '')[:16])}</code></td></tr>"
        )
    versions = ", ".join(escape(v) for v in reversed(page.versions)) or "none"
    origin = "private uploads" if page.origin == "private" else "mirrored from the upstream"
    body = (
        f'<p><a href="../../">blobpi</a> / {escape(page.name)}</p><h1>{escape(page.name)}</h1>'
        f"<p>{len(page.versions)} versions, {len(page.files)} files, "
        f"{human_size(sum(f.size or 0 for f in page.files))}; {origin}. "
        f'<a href="../../simple/{escape(page.name)}/">Its simple page</a>.</p>'
        f"<h2>Install</h2><pre><code>pip install --index-url {escape(index_url)} "
        f"{escape(page.name)}</code></pre>"
        f"<h2>Versions</h2><p>{versions}</p>"
        "<h2>Files</h2><table><caption>Files, newest upload first</caption><tr>"
        '<th scope="col">file</th><th scope="col" class="n">size</th><th scope="col">uploaded</th>'
        '<th scope="col">status</th><th scope="col">requires-python</th>'
        '<th scope="col">sha256</th></tr>'
        f"{''.join(rows)}</table>"
        f"<h2>Use this index</h2>{_snippets(index_url, page.name)}"
    )
    return _page(f"{page.name} - blobpi", body)
