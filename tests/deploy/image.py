"""The image without Docker: blobpi installed as the Dockerfile's stages install it, and the
final stage's environment and file system layout around it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.deploy.dockerfile import parse, runtime
from tests.deploy.wheelhouse import dependency_closure, repack
from tests.support.processes import ROOT, client_env, run

__all__ = ["build_venv", "container_env", "layout", "stages", "build_copies"]

DOCKERFILE = ROOT / "Dockerfile"
SYNC_DOCKERFILE = ROOT / ".github/sync.Dockerfile"  # the image + the reviewed lock
VENV = "/opt/venv"  # where stage 1 builds the venv the final stage copies
VENV_BIN = f"{VENV}/bin"
# PATH of the python:3.12-slim base image, which the final stage's ${PATH} expands to, and
# its interpreter (with pip: the base image keeps it).
BASE_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_PYTHON = "/usr/local/bin/python"


def stages() -> list[list[str]]:
    """Each stage's instructions as ``KEYWORD args`` strings."""
    found: list[list[str]] = []
    for ins in parse(DOCKERFILE):
        if ins.keyword == "FROM":
            found.append([])
        elif found:
            found[-1].append(f"{ins.keyword} {ins.args}")
    return found


def build_copies() -> list[str]:
    """The paths stage 1 copies from the build context."""
    sources: list[str] = []
    for line in stages()[0]:
        keyword, *args = line.split()
        if keyword == "COPY" and not any(a.startswith("--from") for a in args):
            sources += [a.rstrip("/") for a in args[:-1]]
    return sources


def build_venv(tmp: Path) -> Path:
    """Stage 1: the wheel from exactly what it copies (a missing COPY fails here), and the
    venv without pip it installs that wheel into, ``--no-index``."""
    context, wheels = tmp / "src", tmp / "wheels"
    context.mkdir()
    for source in build_copies():
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


def container_env(venv: Path, extra: dict[str, str]) -> dict[str, str]:
    """The final stage's ENV, with the venv at its place in PATH, plus what `docker run -e`
    (or the Container App) adds."""
    image = runtime(DOCKERFILE)
    env = {k: v.replace(VENV_BIN, str(venv / "bin")) for k, v in image.env.items()}
    env["PATH"] = env["PATH"].replace("${PATH}", "/usr/bin:/bin")
    return {**env, **extra}


def layout(root: Path, venv: Path, base_python: Path) -> dict[str, str]:
    """The final stage's file system under ``root``: the copied venv at /opt/venv, the base
    image's interpreter at /usr/local/bin/python, a writable /tmp; returns the image's ENV
    with PATH rooted there, so that a command resolves as it does in the container."""
    (root / VENV.lstrip("/")).parent.mkdir(parents=True)
    os.symlink(venv, root / VENV.lstrip("/"))
    (root / BASE_PYTHON.lstrip("/")).parent.mkdir(parents=True)
    os.symlink(base_python, root / BASE_PYTHON.lstrip("/"))
    (root / "tmp").mkdir()
    env = dict(runtime(DOCKERFILE).env)
    path = env["PATH"].replace("${PATH}", BASE_PATH)
    env["PATH"] = ":".join(f"{root}{entry}" for entry in path.split(":"))
    return env
