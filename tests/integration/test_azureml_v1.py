"""SDK v1 (``azureml-core``, end of life) environments, built offline in a venv of its own,
so that the dev venv and its SDK v2 never depend on what the old SDK pulls in. The venv is
made once per session with uv and the machine's normal registry configuration (this installs
test tooling; it does not exercise the mirror), with blobpi itself, so the real CLI runs."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from blobpi.mirror.cli.main import main
from tests.support.processes import BIN, ROOT, run

LOCK = (
    f"attrs==23.2.0 --hash=sha256:{'a' * 64}\nazureml-defaults==1.60.0 --hash=sha256:{'b' * 64}\n"
)
INDEX = "https://pkgs.example.org/simple/"

# Reads back what `blobpi azureml environment --sdk v1 -o DIR` wrote.
SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")  # azureml-core's vendored ruamel warns on every dump
from azureml.core import Environment
from azureml.core.conda_dependencies import CondaDependencies

env = Environment.load_from_directory(sys.argv[1])
conda = env.python.conda_dependencies
raw = CondaDependencies.create(pip_packages=["x==1"], pin_sdk_version=False)
print(json.dumps({
    "name": env.name,
    "options": list(conda.pip_options),
    "packages": list(conda.pip_packages),
    "channels": list(conda.conda_channels),
    "python": conda.get_python_version(),
    "image": env.docker.base_image,
    "yaml": conda.serialize_to_string(),
    "raw_options": list(raw.pip_options),
}))
"""


@pytest.fixture(scope="session")
def v1_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("azureml-v1") / "venv"
    env = dict(os.environ)
    run([str(BIN / "uv"), "venv", "--quiet", "--python", sys.executable, str(venv)], env=env)
    env["VIRTUAL_ENV"] = str(venv)
    install = [str(BIN / "uv"), "pip", "install", "--quiet", "azureml-core>=1.57", "-e", str(ROOT)]
    run(install, env=env, timeout=600)
    return venv / "bin" / "python"


@pytest.mark.slow
def test_cli_environment_v1__strips_what_create_injects(v1_python: Path, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(LOCK)
    out = tmp_path / "v1"
    written = run(
        [
            str(v1_python.parent / "blobpi"),
            *("azureml", "environment", "--sdk", "v1", "--index-url", INDEX),
            *("-r", str(tmp_path / "requirements.txt"), "--name", "train", "--image", "img:1"),
            *("-o", str(out)),
        ]
    )
    assert "wrote the v1 environment" in written.stdout
    got = json.loads(run([str(v1_python), "-c", SCRIPT, str(out)]).stdout)
    # CondaDependencies.create() itself still adds the public index ...
    assert any(o.startswith("--extra-index-url") for o in got["raw_options"])
    # ... and the helper's environment keeps only the mirror.
    assert got["options"] == [f"--index-url {INDEX}"]
    assert "--extra-index-url" not in got["yaml"] and "--find-links" not in got["yaml"]
    assert got["packages"] == [
        f"attrs==23.2.0 --hash=sha256:{'a' * 64}",
        f"azureml-defaults==1.60.0 --hash=sha256:{'b' * 64}",
    ]
    assert (got["name"], got["python"], got["image"]) == ("train", "3.11", "img:1")
    assert got["channels"] == ["conda-forge"]


def test_cli_environment_v1__without_the_extra_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if importlib.util.find_spec("azureml") is not None:
        pytest.skip("azureml-core is installed in this venv")
    (tmp_path / "r.txt").write_text(LOCK)
    argv = [
        "azureml",
        "environment",
        "--sdk",
        "v1",
        "--index-url",
        INDEX,
        "-r",
        str(tmp_path / "r.txt"),
    ]
    assert main([*argv, "--name", "n", "-o", str(tmp_path / "out")], environ={}) == 1
    err = capsys.readouterr().err
    assert "pip install '.[azureml-v1]'" in err and err.count("\n") == 1
