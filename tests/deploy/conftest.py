"""Paths of the deploy checks' tools, installed by ``make tools`` outside the project venv, and
the templates as pycep-parser reads them."""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.dockerfile import runtime
from tests.deploy.image import DOCKERFILE, build_venv, container_env
from tests.deploy.wheelhouse import repack
from tests.support.dists import build_wheel
from tests.support.processes import ROOT, Azurite, free_port, run, wait_until

# Run by the lint venv's Python, which has the parsers this venv lacks: not for import here.
collect_ignore = ["bicep_parse.py"]

LINT_BIN = ROOT / ".tools/lint-venv/bin"
NODE_MODULES = ROOT / ".tools/node_modules"
BICEP = ROOT / "bicep"


def tool(name: str) -> Path:
    """A linter from ``make tools``; a missing one fails with the fix (never a silent skip)."""
    path = LINT_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run 'make tools'")
    return path


@pytest.fixture(scope="session")
def parsed() -> dict[str, dict[str, Any]]:
    """Each ``.bicep`` file: pycep's template JSON and both parsers' errors."""
    out = run([str(tool("python")), str(Path(__file__).with_name("bicep_parse.py")), str(BICEP)])
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


@pytest.fixture(scope="session")
def templates(parsed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """pycep's template JSON of each file that parsed, by path under bicep/."""
    return {name: entry["pycep"] for name, entry in parsed.items() if entry["pycep"]}


@pytest.fixture(scope="session")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """blobpi installed as the Dockerfile installs it (tests/deploy/image.py); once a session."""
    return build_venv(tmp_path_factory.mktemp("image"))


@pytest.fixture
def container(
    image_venv: Path, azurite: Azurite, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """The image's command running on Azurite, as the Container App runs it, serving a wheel
    and pip's own wheel (which docs/deploy.md's VM check bootstraps from), uploaded with the
    image's own ``blobpi`` (the deployment creates the container likewise)."""
    port = free_port()
    env = container_env(
        image_venv,
        {
            "BLOBPI_PORT": str(port),  # 8080 may be taken on this machine
            "BLOBPI_STORAGE": azurite.new_container_url(),
            "BLOBPI_ANONYMOUS_READ": "true",  # as bicep/main.bicepparam sets it in the VNet
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        },
    )
    blobpi = shutil.which("blobpi", path=env["PATH"])
    assert blobpi == str(Path(env["PATH"].split(":")[0], "blobpi")), "the venv comes first"
    pip_wheel = repack(md.distribution("pip"), _mkdir(tmp_path / "pip"))
    shipped = build_wheel(tmp_path, "shipped-pkg", "1.0")
    run([blobpi, "upload", str(shipped), str(pip_wheel)], env=env)
    log = tmp_path / "container.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            runtime(DOCKERFILE).command, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{url}/health").status_code == 200, what=f"image ({log})")
        yield url, env
    finally:
        process.terminate()
        process.wait(timeout=10)


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
