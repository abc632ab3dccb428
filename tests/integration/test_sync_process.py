"""``blobpi sync`` as a process: killed mid-sync then resumed, two syncs at once, and the
configuration the container job uses (environment variables only)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from pathlib import Path

import anyio
import pytest

from tests.conftest import StoreSpec
from tests.support.dists import build_wheel
from tests.support.processes import BIN, Server, client_env, make_venv, run, wait_until
from tests.support.upstream import LocalUpstream, install_lock

pytestmark = pytest.mark.slow


def _verify_served(root: Path) -> set[str]:
    """Every file a page links exists, complete, with the page's sha256; returns them."""
    linked = set()
    for page in (root / "simple").glob("*/index.v1_json"):
        for file in json.loads(page.read_text())["files"]:
            path = root / file["url"].removeprefix("../../")
            assert hashlib.sha256(path.read_bytes()).hexdigest() == file["hashes"]["sha256"]
            linked.add(file["filename"])
    return linked


def test_sync_process__kill_mid_sync_then_resume_and_concurrent_sync(tmp_path: Path) -> None:
    storage = tmp_path / "data"
    names = [f"proj{i}" for i in range(6)]
    with LocalUpstream.start() as upstream:
        dists = [
            upstream.add(build_wheel(tmp_path / "d", n, "1.0", payload_bytes=200_000))
            for n in names
        ]
        upstream.slow_seconds = 30
        upstream.fail(dists[-1].url_path, "slow")  # the sync hangs on the last download
        (tmp_path / "allowlist.txt").write_text("\n".join(names) + "\n")
        env = client_env(
            {
                "BLOBPI_STORAGE": str(storage),
                "BLOBPI_ALLOWLIST": str(tmp_path / "allowlist.txt"),
                "BLOBPI_UPSTREAM": upstream.index_url,
                "BLOBPI_CONFIG": str(tmp_path / "none.toml"),
            }
        )
        (tmp_path / "none.toml").write_text("[sync]\ntimeout = 60\n")
        first = subprocess.Popen(
            [str(BIN / "blobpi"), "sync"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            wait_until(lambda: upstream.count(dists[-1].url_path) == 1, what="the slow download")
            second = run([str(BIN / "blobpi"), "sync"], env=env, check=False)
            assert second.returncode == 1
            assert "another sync holds the lease 'state/sync.lock'" in second.stderr
            os.kill(first.pid, signal.SIGKILL)
        finally:
            first.kill()
            first.communicate()
        # What is served after the kill is complete and verified; nothing half-written shows.
        served = _verify_served(storage)
        assert dists[-1].filename not in served
        assert not list((storage / "packages").rglob(dists[-1].filename))
        resumed = run([str(BIN / "blobpi"), "sync", "--report", str(tmp_path / "r.json")], env=env)
        assert "0 failed" in resumed.stdout
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["ok"] and len(report["added"]) < len(names)  # resumed, not restarted
        assert _verify_served(storage) == {d.filename for d in dists}


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [
        (signal.SIGINT, 130, "blobpi: interrupted"),  # Ctrl-C
        (signal.SIGTERM, 143, "blobpi: interrupted (SIGTERM)"),  # a container's stop
    ],
)
def test_sync_process__ctrl_c_or_sigterm_stops_cleanly(
    tmp_path: Path, signum: int, code: int, said: str
) -> None:
    """A signal in the middle of a download cancels the whole run at once, however its
    code handles cancellation: no partial file, pages as they were, and the next run
    completes it."""
    storage = tmp_path / "data"
    with LocalUpstream.start() as upstream:
        fast = upstream.add(build_wheel(tmp_path / "d", "fast", "1.0"))
        slow = upstream.add(build_wheel(tmp_path / "d", "slow", "1.0", payload_bytes=100_000))
        upstream.slow_seconds = 30
        upstream.fail(slow.url_path, "slow")
        (tmp_path / "allowlist.txt").write_text("fast\nslow\n")
        command = [
            str(BIN / "blobpi"),
            "sync",
            "--allowlist",
            str(tmp_path / "allowlist.txt"),
            "--upstream",
            upstream.index_url,
            "--storage",
            str(storage),
        ]
        # faulthandler: a child that outlives the signal is told to abort, and shows where
        # each of its threads was
        env = client_env({"PYTHONFAULTHANDLER": "1"})
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: upstream.count(slow.url_path) == 1, what="the slow download")
            process.send_signal(signum)
            try:
                _, stderr = process.communicate(timeout=20)  # generous: it stops at once
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)
                pytest.fail(f"still running 20 s after the signal:\n{process.communicate()[1]}")
        finally:
            process.kill()
            process.communicate()  # reaped and its pipe closed, even when it timed out
        assert process.returncode == code and stderr.strip().endswith(said)
        assert list((storage / ".tmp").iterdir()) == []  # no partial file left behind
        assert slow.filename not in _verify_served(storage)
        # The next run completes what was interrupted.
        assert "0 failed" in run(command, env=client_env()).stdout
        assert _verify_served(storage) == {fast.filename, slow.filename}


def test_sync_process__sigterm_before_the_sync_starts_ends_in_one_line(tmp_path: Path) -> None:
    """A stop while the command starts up (here: reading an allow-list from a pipe, before
    the sync's own signal handling) ends with the same line and status, not a silent kill."""
    fifo = tmp_path / "allowlist.txt"
    os.mkfifo(fifo)
    command = [
        str(BIN / "blobpi"),
        "sync",
        "--allowlist",
        str(fifo),
        "--storage",
        str(tmp_path / "data"),
    ]
    env = client_env({"BLOBPI_UPSTREAM": "http://127.0.0.1:9/simple/"})
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:

        def _reading() -> bool:  # a writer can open the pipe once its reader has
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return False
            writers.append(writer)
            return True

        writers: list[int] = []
        wait_until(_reading, what="blobpi reading the allow-list")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)  # generous: it stops at once
    finally:
        process.kill()
        process.communicate()
        for writer in writers:
            os.close(writer)
    assert (process.returncode, stderr) == (143, "blobpi: interrupted (SIGTERM)\n")
    assert not (tmp_path / "data").exists()


def test_sync_process__bad_input_ends_in_one_line(tmp_path: Path) -> None:
    env = client_env(
        {"BLOBPI_STORAGE": str(tmp_path / "data"), "BLOBPI_UPSTREAM": "http://127.0.0.1:9/simple/"}
    )
    missing = run(
        [str(BIN / "blobpi"), "sync", "--allowlist", str(tmp_path / "no.txt")], env=env, check=False
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("blobpi: error: cannot read the allow-list")
    assert len(missing.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.txt").write_text("six\nnot a requirement!\n")
    bad = run(
        [str(BIN / "blobpi"), "sync", "--allowlist", str(tmp_path / "bad.txt"), "--shard", "3/2"],
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and "shard '3/2' is not K/N" in bad.stderr
    bad = run(
        [str(BIN / "blobpi"), "sync", "--allowlist", str(tmp_path / "bad.txt")],
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and "bad.txt:2: 'not a requirement!'" in bad.stderr
    # An unreachable upstream: a clear failure, exit 1, nothing written to pages.
    (tmp_path / "ok.txt").write_text("six\n")
    (tmp_path / "c.toml").write_text("[sync]\nretries = 1\ntimeout = 2\n")
    down = run(
        [str(BIN / "blobpi"), "sync", "--allowlist", str(tmp_path / "ok.txt")],
        env={**env, "BLOBPI_CONFIG": str(tmp_path / "c.toml")},
        check=False,
    )
    assert down.returncode == 1 and "is reachable" in down.stderr
    assert not (tmp_path / "data" / "simple").exists()


def test_sync_process__environment_alone_on_both_stores(
    store_spec: StoreSpec, tmp_path: Path
) -> None:
    """The container job's configuration (no flags, only BLOBPI_* and the store's own), then
    lock -> sync -> serve -> ``pip install --require-hashes`` from the mirror alone."""
    with LocalUpstream.start() as upstream:
        solo = upstream.add(build_wheel(tmp_path / "d", "solo", "1.0"))
        (tmp_path / "allowlist.txt").write_text(f"solo==1.0 --hash=sha256:{solo.sha256}\n")
        (tmp_path / "blobpi.toml").write_text("[sync]\nconcurrency = 2\n")
        env = client_env(
            {
                **store_spec.environ,
                "BLOBPI_STORAGE": store_spec.spec,
                "BLOBPI_ALLOWLIST": str(tmp_path / "allowlist.txt"),
                "BLOBPI_UPSTREAM": upstream.index_url,
                "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml"),
                "BLOBPI_SHARD": "1/1",
            }
        )
        assert "1 files added" in run([str(BIN / "blobpi"), "sync"], env=env).stdout
    with Server.start(store_spec.spec, store_spec.environ, tmp_path) as server:
        python = make_venv(tmp_path / "venv")
        install_lock(python, server.index_url, tmp_path / "allowlist.txt")
        got = run([str(python), "-c", "import solo; print(solo.VERSION)"], env=client_env())
        assert got.stdout.strip() == "1.0"

    async def _state() -> dict[str, object]:
        store = store_spec.open()
        try:
            blob = await store.get("state/report.json")
            assert blob is not None
            return dict(json.loads(blob.data))
        finally:
            await store.close()

    report = anyio.run(_state)
    assert report["ok"] is True and len(report["added"]) == 1  # type: ignore[arg-type]
