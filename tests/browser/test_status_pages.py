"""The status pages in a real headless browser (Debian's chromium, ``--dump-dom`` and
``--screenshot``) against a real ``blobpi serve``: the overview with its filter, a project
page, the sync chart. Screenshots are kept in ``.tools/artifacts/`` (CI uploads them)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from blobpi.mirror.ops.publish import publish
from blobpi.mirror.ops.retraction import yank
from blobpi.mirror.store.local import LocalStore
from blobpi.sync.io.history import record_run
from blobpi.sync.io.report import Report
from tests.support.dists import build_sdist, build_wheel
from tests.support.processes import Server

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".tools" / "artifacts"
if CHROMIUM is None:
    pytest.skip(
        "chromium is not installed: 'apt-get install -y chromium' (make test does it)",
        allow_module_level=True,
    )


def _browser(url: str, *mode: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--window-size=1200,1600",
                *mode,
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


async def _fill(root: Path, dist: Path) -> None:
    async with LocalStore(str(root)) as store:
        await store.ensure()
        for path in (
            build_wheel(dist, "Demo_Pkg", "1.0"),
            build_wheel(dist, "Demo_Pkg", "1.1"),
            build_sdist(dist, "Demo_Pkg", "1.1"),
            build_wheel(dist, "other-tool", "2.0"),
        ):
            with path.open("rb") as f:
                await publish(store, path.name, f, max_bytes=10**8)
        await yank(
            store, canonicalize_name("demo-pkg"), Version("1.0"), None, "broken <b>build</b>"
        )
        start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        for day, (added, ok) in enumerate([(3, True), (0, False), (2, True)]):
            report = Report(added=["x"] * added, failed=[] if ok else ["six: upstream said 503"])
            names = [canonicalize_name(n) for n in ["demo-pkg", "other-tool"][: 1 + day // 2]]
            when = start + dt.timedelta(days=day)
            await record_run(store, report, "https://up.test/simple/", names, when, wrote=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("browser")
    anyio.run(_fill, tmp / "data", tmp / "dist")
    with Server.start(str(tmp / "data"), {}, tmp) as running:
        yield running


def test_browser__overview_lists_projects_syncs_and_snippets(server: Server) -> None:
    dom = _browser(f"{server.url}/", "--dump-dom")
    assert "2 projects, 3 versions, 4 files" in dom
    assert 'href="project/demo-pkg/"' in dom and 'href="project/other-tool/"' in dom
    assert '<label for="q">' in dom and 'id="q"' in dom  # the filter box is labelled
    assert "six: upstream said 503" in dom and "failed" in dom
    assert "<polyline" in dom and "over the last 3 syncs" in dom and "size: 4.1 kB" in dom
    index = f"{server.url}/simple/"
    assert f"pip install --index-url {index} NAME" in dom
    assert f"uv pip install --default-index {index}" in dom and f"index-url = {index}" in dom
    assert "<script" not in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status-overview.png"
    _browser(f"{server.url}/", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"


def test_browser__filter_box_narrows_the_list(server: Server) -> None:
    dom = _browser(f"{server.url}/?q=other", "--dump-dom")
    assert 'href="project/other-tool/"' in dom and 'href="project/demo-pkg/"' not in dom
    assert "1 of 2 projects match 'other'" in dom


def test_browser__project_page(server: Server) -> None:
    dom = _browser(f"{server.url}/project/demo-pkg/", "--dump-dom")
    assert "2 versions, 3 files" in dom
    assert f"pip install --index-url {server.url}/simple/ demo-pkg" in dom
    assert "demo_pkg-1.1.tar.gz" in dom and "demo_pkg-1.0-py3-none-any.whl" in dom
    assert "yanked: broken &lt;b&gt;build&lt;/b&gt;" in dom  # escaped, never markup
    shot = ARTIFACTS / "status-project.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _browser(f"{server.url}/project/Demo_Pkg/", f"--screenshot={shot}")  # redirected
    assert shot.stat().st_size > 10_000


def test_serve__ends_its_start_up_with_the_index_url_and_an_install_line(server: Server) -> None:
    lines = server.log.read_text().splitlines()
    index = f"{server.url}/simple/"
    announce = lines.index(f"blobpi: pip install --index-url {index} demo-pkg")
    assert lines[announce - 1].startswith(f"blobpi: serving {index} (status page: ")
    listening = ("Uvicorn running on ", "Listening at: ")  # uvicorn (the default), granian
    running = next(i for i, line in enumerate(lines) if any(s in line for s in listening))
    assert running < announce  # printed once it listens: the last start-up lines
    logged = [json.loads(line) for line in lines if line.startswith("{")]  # not a terminal
    assert {"time", "level", "logger", "message"} <= set(logged[0])
    access = [line for line in logged if line["logger"] == "blobpi.access"]
    assert access and all(len(str(line["request_id"])) == 16 for line in access)
