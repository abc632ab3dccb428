"""The real upstream (the index pip is configured with here), opt-in: ``pytest --live``.

It checks what the local upstream cannot: an index that sends no ETag, no serial and no
``core-metadata`` keys, real file URLs, and a lock that uv resolves against it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.processes import BIN, Server, client_env, make_venv, run
from tests.support.upstream import install_lock

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_sync_live__lock_sync_serve_install(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLOBPI_")}
    (tmp_path / "allowlist.in").write_text("six\nidna<4\n")
    (tmp_path / "blobpi.toml").write_text('[lock]\npython-versions = ["3.11", "3.12"]\n')
    config = ["--config", str(tmp_path / "blobpi.toml")]
    lock = tmp_path / "allowlist.txt"
    run(
        [str(BIN / "blobpi"), "lock", str(tmp_path / "allowlist.in"), "-o", str(lock), *config],
        env=env,
    )
    storage = str(tmp_path / "data")
    sync = [str(BIN / "blobpi"), "sync", "--allowlist", str(lock), "--storage", storage, *config]
    first = run([*sync, "--report", str(tmp_path / "first.json")], env=env)
    assert "0 failed" in first.stdout
    report = json.loads((tmp_path / "first.json").read_text())
    assert report["ok"] and len(report["added"]) >= 2
    second = run([*sync, "--report", str(tmp_path / "second.json")], env=env)
    assert json.loads((tmp_path / "second.json").read_text())["writes"] == 0, second.stdout
    page = json.loads((tmp_path / "data/simple/six/index.v1_json").read_text())
    assert all(f["core-metadata"] for f in page["files"] if f["filename"].endswith(".whl"))
    with Server.start(storage, {}, tmp_path) as server:
        python = make_venv(tmp_path / "venv")
        install_lock(python, server.index_url, lock)
        run([str(python), "-c", "import six, idna"], env=client_env())
