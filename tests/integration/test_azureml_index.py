"""Index-URL mode end to end: the pip section of the conda file that ``blobpi azureml
environment`` writes is what an Azure ML image build hands to pip (conda writes the list to a
requirements file and runs ``pip install -r``), so a real pip installs it from a real
``blobpi serve`` with anonymous read off, checking every hash, with the credentials of the
python_feed connection that ``blobpi azureml connection`` writes (given to pip by netrc, as
the build gets them from the workspace: never in the index URL)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from blobpi.mirror.cli.main import main
from tests.support.dists import build_wheel
from tests.support.processes import BIN, Server, client_env, make_venv, run

pytestmark = pytest.mark.slow


def test_environment__pip_installs_its_pip_section_from_the_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = [
        build_wheel(tmp_path / "dist", "alpha", "1.0", requires=["beta==2.0"]),
        build_wheel(tmp_path / "dist", "beta", "2.0"),
        build_wheel(tmp_path / "dist", "beta", "2.1"),
    ]
    storage = str(tmp_path / "data")
    run([str(BIN / "blobpi"), "upload", *map(str, wheels), "--storage", storage])
    sha = [hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels]
    lock = tmp_path / "requirements.txt"
    lock.write_text(f"alpha==1.0 --hash=sha256:{sha[0]}\nbeta==2.0 --hash=sha256:{sha[1]}\n")

    token = run(
        [str(BIN / "blobpi"), "token", "create", "--scope", "read", "--storage", storage]
    ).stdout.strip()
    with Server.start(storage, {"BLOBPI_ANONYMOUS_READ": "0"}, tmp_path) as server:
        argv = ["azureml", "environment", "--index-url", server.index_url, "-r", str(lock)]
        assert main([*argv, "--name", "train", "-o", str(tmp_path / "env")], environ={}) == 0
        argv = ["azureml", "connection", "--index-url", server.index_url, "-o", str(tmp_path)]
        argv += ["--username", "__token__"]
        assert main(argv, environ={"BLOBPI_FEED_SECRET": token}) == 0
        assert token not in capsys.readouterr().out

        conda = yaml.safe_load((tmp_path / "env" / "conda.yml").read_text())
        (pip,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
        assert pip[0] == f"--index-url {server.index_url}"
        (tmp_path / "pip.txt").write_text("\n".join(pip) + "\n")
        python = make_venv(tmp_path / "venv")
        install = [str(python), "-m", "pip", "install", "-r", str(tmp_path / "pip.txt")]
        refused = run(install, env=client_env({"HOME": str(tmp_path)}), check=False)
        assert refused.returncode != 0 and "No matching distribution" in refused.stderr

        feed = yaml.safe_load((tmp_path / "connection.yml").read_text())
        assert server.index_url.startswith(feed["target"])
        user, password = feed["credentials"]["username"], feed["credentials"]["password"]
        (tmp_path / ".netrc").write_text(f"machine 127.0.0.1 login {user} password {password}\n")
        (tmp_path / ".netrc").chmod(0o600)
        run(install, env=client_env({"HOME": str(tmp_path)}))

    check = run([str(python), "-c", "import alpha, beta; print(alpha.VERSION, beta.VERSION)"])
    assert check.stdout.split() == ["1.0", "2.0"]  # the pinned beta, not the newer 2.1
