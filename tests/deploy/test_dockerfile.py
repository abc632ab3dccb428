"""The image: hadolint clean, multi-stage, non-root, and its entrypoint works.

Docker cannot run here, so the slow test does what the image does without it: it builds the
wheel from exactly the files stage 1 copies, installs it ``--no-index`` into a fresh venv as the
final stage does, then runs the final stage's ENTRYPOINT + CMD with its ENV and installs a
package through the server with pip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import tool
from tests.deploy.dockerfile import parse, runtime
from tests.deploy.wheelhouse import dependency_closure, repack
from tests.support.dists import build_wheel
from tests.support.processes import (
    ROOT,
    Azurite,
    client_env,
    free_port,
    make_venv,
    run,
    wait_until,
)

DOCKERFILE = ROOT / "Dockerfile"
SYNC_DOCKERFILE = ROOT / ".github/sync.Dockerfile"  # the image + the reviewed lock
VENV_BIN = "/opt/venv/bin"  # where the final stage installs blobpi


def _stages() -> list[list[str]]:
    """Each stage's instructions as ``KEYWORD args`` strings."""
    stages: list[list[str]] = []
    for ins in parse(DOCKERFILE):
        if ins.keyword == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append(f"{ins.keyword} {ins.args}")
    return stages


def _build_copies() -> list[str]:
    """The paths stage 1 copies from the build context."""
    sources: list[str] = []
    for line in _stages()[0]:
        keyword, *args = line.split()
        if keyword == "COPY" and not any(a.startswith("--from") for a in args):
            sources += [a.rstrip("/") for a in args[:-1]]
    return sources


@pytest.mark.parametrize("path", [DOCKERFILE, SYNC_DOCKERFILE], ids=str)
def test_dockerfile__hadolint_clean(path: Path) -> None:
    result = run([str(tool("hadolint")), "--no-color", str(path)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile__final_stage_is_slim_non_root_and_checks_health() -> None:
    stages = _stages()
    assert len(stages) >= 2, "build the wheel in one stage, install it in another"
    final = " ".join(stages[-1])
    assert "--no-index" in final and "pip wheel" not in final
    assert "COPY " not in final, "the wheelhouse is bind-mounted, so it leaves no layer"
    froms = [ins.args for ins in parse(DOCKERFILE) if ins.keyword == "FROM"]
    assert all("slim" in f or f.startswith("${") for f in froms)
    assert "python:3.12-slim" in DOCKERFILE.read_text()
    image = runtime(DOCKERFILE)
    assert image.user not in {"root", "0"}
    assert image.command == ["blobpi", "serve"]
    assert "/health" in " ".join(image.healthcheck)
    assert image.env["BLOBPI_HOST"] == "0.0.0.0"
    assert image.env["PATH"].startswith(VENV_BIN + ":")


def _sync_copies() -> list[str]:
    """The paths .github/sync.Dockerfile copies from the same build context."""
    copies = [ins.args.split() for ins in parse(SYNC_DOCKERFILE) if ins.keyword == "COPY"]
    return [source for args in copies for source in args[:-1]]


def test_dockerignore__admits_only_what_the_build_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "exclude everything, then admit what the build needs"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert set(_build_copies()) | set(_sync_copies()) <= admitted
    assert not admitted & {".venv", ".tools", ".git", "data", "tests"}


@pytest.fixture(scope="session")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """blobpi installed as the final stage installs it; built once per session."""
    tmp = tmp_path_factory.mktemp("image")
    context, wheels = tmp / "src", tmp / "wheels"
    context.mkdir()
    for source in _build_copies():  # exactly what stage 1 copies, so a missing COPY fails here
        copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy2
        copy(ROOT / source, context / source)
    # Stage 1 runs `pip wheel --wheel-dir /wheels .` against an index; offline here, the
    # dependencies come from the tested venv instead (tests/deploy/wheelhouse.py).
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--wheel-dir", str(wheels), str(context)],
        env=client_env(),
    )
    for dist in dependency_closure("blobpi"):
        repack(dist, wheels)
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install"]
        + ["--no-cache-dir", "--no-index", "--find-links", str(wheels), "blobpi"],
        env=client_env(),
    )
    return venv


def _container_env(venv: Path, extra: dict[str, str]) -> dict[str, str]:
    """The final stage's ENV, with the venv at its place in PATH, plus what `docker run -e`
    (or the Container App) adds."""
    image = runtime(DOCKERFILE)
    env = {k: v.replace(VENV_BIN, str(venv / "bin")) for k, v in image.env.items()}
    env["PATH"] = env["PATH"].replace("${PATH}", "/usr/bin:/bin")
    return {**env, **extra}


@pytest.fixture
def container(
    image_venv: Path, azurite: Azurite, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """The image's command running on Azurite, as the Container App runs it, serving a wheel
    uploaded with the image's own ``blobpi`` (the deployment creates the container likewise)."""
    port = free_port()
    env = _container_env(
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
    run([blobpi, "upload", str(build_wheel(tmp_path, "shipped-pkg", "1.0"))], env=env)
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


@pytest.mark.slow
@pytest.mark.azurite
def test_image_entrypoint__serves_and_pip_installs_through_it(
    container: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = container
    health = run(runtime(DOCKERFILE).healthcheck, env=env, check=False)
    assert health.returncode == 0, health.stderr

    python = make_venv(tmp_path / "client")
    run(
        [str(python), "-m", "pip", "install", "--index-url", f"{url}/simple/", "shipped-pkg"],
        env=client_env(),
    )
    shown = run([str(python), "-m", "pip", "show", "shipped-pkg"], env=client_env())
    assert "Version: 1.0" in shown.stdout


@pytest.mark.slow
def test_image_entrypoint__health_check_fails_without_a_server(image_venv: Path) -> None:
    env = _container_env(image_venv, {"BLOBPI_PORT": str(free_port())})
    result = run(runtime(DOCKERFILE).healthcheck, env=env, check=False)
    assert result.returncode != 0


@pytest.mark.slow
def test_image_sync__without_an_allowlist_fails_in_one_line_naming_it(image_venv: Path) -> None:
    """`docker run IMAGE sync` before the allow-list is baked in: the image's BLOBPI_ALLOWLIST
    path is named, with the fix, and nothing is written."""
    env = _container_env(image_venv, {"BLOBPI_UPSTREAM": "http://127.0.0.1:9/simple/"})
    result = run([*runtime(DOCKERFILE).command[:-1], "sync"], env=env, check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert env["BLOBPI_ALLOWLIST"] in line and "BLOBPI_ALLOWLIST" in line.replace(
        env["BLOBPI_ALLOWLIST"], ""
    )
