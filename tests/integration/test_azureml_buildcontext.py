"""The pip-only build context end to end, without a Docker engine: ``blobpi azureml
environment --build-context`` writes it for a running ``blobpi serve``, and the Dockerfile's
own COPY, ENV and RUN lines install the lock into a clean venv standing for the base image,
hashes required, even when that image's pip configuration names another index (which must
get no request), and refuse an image whose Python is not the lock's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from blobpi.mirror.cli.main import main
from tests.deploy.dockerfile import parse
from tests.support.dists import build_wheel
from tests.support.dockerbuild import run_dockerfile
from tests.support.processes import BIN, Server, make_venv, run
from tests.support.upstream import LocalUpstream

pytestmark = pytest.mark.slow


def test_build_context__its_run_line_installs_from_the_mirror_only(tmp_path: Path) -> None:
    wheels = [
        build_wheel(tmp_path / "dist", "alpha", "1.0", requires=["beta==2.0"]),
        build_wheel(tmp_path / "dist", "beta", "2.0"),
    ]
    storage = str(tmp_path / "data")
    run([str(BIN / "blobpi"), "upload", *map(str, wheels), "--storage", storage])
    sha = [hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels]
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"alpha==1.0 --hash=sha256:{sha[0]}\nbeta==2.0 --hash=sha256:{sha[1]}\n")

    with LocalUpstream.start() as other, Server.start(storage, {}, tmp_path) as server:
        # The public index, as a base image's own pip.conf might name it, with a newer beta.
        other.add(build_wheel(tmp_path / "other", "beta", "2.0", payload_bytes=10))
        argv = ["azureml", "environment", "--build-context", "--index-url", server.index_url]
        assert main([*argv, "-r", str(lock), "--name", "t", "-o", str(tmp_path / "env")]) == 0
        context = tmp_path / "env" / "context"
        assert not any("conda" in ins.args for ins in parse(context / "Dockerfile"))

        venv = make_venv(tmp_path / "image").parent.parent
        (venv / "pip.conf").write_text(  # the image's site config: pip reads it before ours
            f"[global]\nextra-index-url = {other.index_url}\nfind-links = {tmp_path / 'other'}\n"
        )
        built = run_dockerfile(context, tmp_path / "root", venv)
        assert built.returncode == 0, built.stdout + built.stderr
        assert other.requests == []  # the other index was never asked
        assert f"Looking in indexes: {server.index_url}\n" in built.stdout
        assert "Looking in links" not in built.stdout  # pip.conf emptied the image's find-links

        wrong = ["--python", "3.12", "-o", str(tmp_path / "env312")]
        assert main([*argv, "-r", str(lock), "--name", "t", *wrong]) == 0
        refused = run_dockerfile(tmp_path / "env312" / "context", tmp_path / "root2", venv)
        assert refused.returncode != 0
        assert "the lock is for 3.12: use an image with Python 3.12" in refused.stderr

    check = run([str(venv / "bin/python"), "-c", "import alpha, beta; print(alpha.VERSION)"])
    assert check.stdout.strip() == "1.0"
