"""The image: hadolint clean, multi-stage, non-root, buildable by the classic builder that ACR
Tasks runs (no BuildKit-only syntax), and its entrypoint works.

Docker cannot run here, so the slow tests do what the image does without it: build the wheel
from exactly the files stage 1 copies, install it ``--no-index`` into a fresh venv without pip
as stage 1 does (the final stage copies that venv), then run the final stage's ENTRYPOINT + CMD
with its ENV, install a package through the server with pip, and run docs/deploy.md's check
commands against the image's file system layout.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import tool
from tests.deploy.dockerfile import buildkit_only, parse, runtime
from tests.deploy.image import (
    DOCKERFILE,
    SYNC_DOCKERFILE,
    VENV_BIN,
    build_copies,
    container_env,
    layout,
    stages,
)
from tests.support.processes import ROOT, client_env, free_port, make_venv, run

DOC = (ROOT / "docs/deploy.md").read_text()


@pytest.mark.parametrize("path", [DOCKERFILE, SYNC_DOCKERFILE], ids=str)
def test_dockerfile__hadolint_clean(path: Path) -> None:
    result = run([str(tool("hadolint")), "--no-color", str(path)], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [DOCKERFILE, SYNC_DOCKERFILE], ids=str)
def test_dockerfile__no_buildkit_only_syntax(path: Path) -> None:
    """ACR Tasks' quick builds use the classic builder: `RUN --mount` and the rest fail."""
    assert buildkit_only(path.read_text()) == []


def test_buildkit_check__finds_each_feature() -> None:
    sample = (
        "# syntax=docker/dockerfile:1\nFROM a AS b\nRUN --mount=type=bind,from=b,target=/w x\n"
        "RUN <<EOF\necho\nEOF\nCOPY --link --chmod=644 a b\nADD --checksum=sha256:0 u d\n"
    )
    assert buildkit_only(sample) == [
        "directive syntax",
        "RUN --mount",
        "RUN heredoc",
        "COPY --link",
        "COPY --chmod",
        "ADD --checksum",
    ]


def test_dockerfile__final_stage_is_slim_non_root_and_checks_health() -> None:
    found = stages()
    assert len(found) >= 2, "build the wheel in one stage, install it in another"
    build, final = " ".join(found[0]), " ".join(found[-1])
    assert "pip wheel" in build and "--no-index" in build and "venv --without-pip" in build
    assert "pip " not in final, "no wheelhouse or installer in the final stage"
    copies = [line for line in found[-1] if line.startswith("COPY ")]
    assert copies == ["COPY --from=build /opt/venv /opt/venv"], "only the venv, no wheelhouse"
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


def test_dockerignore__admits_only_what_thebuild_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "exclude everything, then admit what the build needs"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert set(build_copies()) | set(_sync_copies()) <= admitted
    assert not admitted & {".venv", ".tools", ".git", "data", "tests"}


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
    env = container_env(image_venv, {"BLOBPI_PORT": str(free_port())})
    result = run(runtime(DOCKERFILE).healthcheck, env=env, check=False)
    assert result.returncode != 0


@pytest.mark.slow
def test_image_sync__without_an_allowlist_fails_in_one_line_naming_it(image_venv: Path) -> None:
    """`docker run IMAGE sync` before the allow-list is baked in: the image's BLOBPI_ALLOWLIST
    path is named, with the fix, and nothing is written."""
    env = container_env(image_venv, {"BLOBPI_UPSTREAM": "http://127.0.0.1:9/simple/"})
    result = run([*runtime(DOCKERFILE).command[:-1], "sync"], env=env, check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert env["BLOBPI_ALLOWLIST"] in line and "BLOBPI_ALLOWLIST" in line.replace(
        env["BLOBPI_ALLOWLIST"], ""
    )


def _exec_command() -> list[str]:
    """The command docs/deploy.md runs in the server's container (az containerapp exec)."""
    [command] = re.findall(r'az containerapp exec [^\n]*\n\s*--command "([^"]+)"', DOC)
    return shlex.split(command)


def _resolve(word: str, env: dict[str, str], root: Path) -> str:
    """Where the container finds a command: an absolute path under the image's root, else
    the first match on the image's PATH (as execvp does)."""
    if word.startswith("/"):
        return str(root / word.lstrip("/"))
    found = shutil.which(word, path=env["PATH"])
    assert found, f"{word} is not on the image's PATH"
    return found


@pytest.mark.slow
@pytest.mark.azurite
def test_docs_check__the_in_container_command_installs_on_the_image_layout(
    container: tuple[str, dict[str, str]], image_venv: Path, tmp_path: Path
) -> None:
    """[11] The check installs with the base image's interpreter and its pip: `python` on
    the image's PATH is the venv's, whose pip (if any) is only one of blobpi's dependencies."""
    url, _ = container
    root = tmp_path / "root"
    base = make_venv(tmp_path / "base")  # the base image's interpreter keeps its pip
    env = {**client_env(), **layout(root, image_venv, base)}
    replace = {"$INDEX_URL": f"{url}/simple/", "SOME-ALLOWED-PACKAGE": "shipped-pkg"}
    words = [replace.get(w, w) for w in _exec_command()]
    words = [str(root / w.lstrip("/")) if w.startswith("/tmp/") else w for w in words]
    interpreter = _resolve(words[0], env, root)
    assert not interpreter.startswith(str(root / VENV_BIN.lstrip("/"))), interpreter
    run([interpreter, *words[1:]], env=env)
    assert list((root / "tmp/check").glob("shipped_pkg-1.0.dist-info"))


def _vm_script() -> str:
    """The check script docs/deploy.md runs on the VM (az vm run-command invoke)."""
    [script] = re.findall(r"cat > check.sh <<'EOF'\n(.*?)\nEOF\n", DOC, flags=re.DOTALL)
    assert "--scripts @check.sh" in DOC
    return str(script)


@pytest.mark.slow
@pytest.mark.azurite
def test_docs_check__the_vm_script_bootstraps_pip_from_the_index_and_installs(
    container: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    """[1] The VM check, run by a python3 without pip (as a fresh VM's is) with nothing but
    the index to reach: pip comes from the index, then installs the package."""
    url, _ = container
    bin_dir = tmp_path / "vm-bin"
    bin_dir.mkdir()
    # A venv without pip, started by its own path (through a symlink it would not be a venv).
    vm = tmp_path / "vm"
    run([sys.executable, "-m", "venv", "--without-pip", str(vm)])
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec {vm / "bin/python"} "$@"\n')
    python3.chmod(0o755)
    no_pip = run([str(bin_dir / "python3"), "-m", "pip", "--version"], check=False)
    assert no_pip.returncode != 0
    script = tmp_path / "check.sh"
    script.write_text(_vm_script())
    env = client_env({"PATH": f"{bin_dir}:/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    result = run(["bash", str(script), f"{url}/simple/", "shipped-pkg"], env=env)
    assert "shipped-pkg==1.0" in result.stdout.splitlines()
