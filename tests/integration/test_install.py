"""Real installers against a real server process: pip and uv install what `blobpi upload`
stored, from the local store and from Azurite."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import StoreSpec
from tests.support.dists import build_sdist, build_wheel
from tests.support.processes import BIN, Server, client_env, make_venv, run

pytestmark = pytest.mark.slow


def _upload(spec: StoreSpec, *paths: Path) -> None:
    run(
        [str(BIN / "blobpi"), "upload", *map(str, paths), "--storage", spec.spec],
        env={**client_env(), **spec.environ},
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_install__pip_require_hashes_and_uv(store_spec: StoreSpec, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    lib = build_wheel(dist, "blobpi-demo-lib", "1.2")
    app = build_wheel(dist, "Blobpi_Demo_App", "2.0", requires=["blobpi-demo-lib>=1.0"])
    tool = build_sdist(dist, "blobpi-demo-tool", "0.1")
    _upload(store_spec, lib, app, tool)
    with Server.start(store_spec.spec, store_spec.environ, tmp_path) as server:
        # pip, hash-checked, with an sdist that it must build from the same index
        requirements = tmp_path / "requirements.txt"
        requirements.write_text(
            f"blobpi-demo-app==2.0 --hash=sha256:{_sha256(app)}\n"
            f"blobpi-demo-lib==1.2 --hash=sha256:{_sha256(lib)}\n"
            f"blobpi-demo-tool==0.1 --hash=sha256:{_sha256(tool)}\n"
        )
        python = make_venv(tmp_path / "pip-venv")
        # pip resolves from the PEP 658 metadata file and downloads no wheel to do it
        resolved = run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-v",
                "--dry-run",
                "--index-url",
                server.index_url,
                "blobpi-demo-app",
            ],
            env=client_env(),
        ).stdout
        assert f"{app.name}.metadata" in resolved
        assert f"Downloading {server.url}" not in resolved.replace(f"{app.name}.metadata", "")
        run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-v",
                "--index-url",
                server.index_url,
                "--require-hashes",
                "-r",
                str(requirements),
            ],
            env=client_env(),
        )
        check = run(
            [
                str(python),
                "-c",
                "import blobpi_demo_app, blobpi_demo_lib, blobpi_demo_tool as t;"
                "print(t.VERSION, t.FROM_SDIST)",
            ],
            env=client_env(),
        )
        assert check.stdout.strip() == "0.1 True"

        # uv, resolving the dependency from the JSON API
        uv_venv = tmp_path / "uv-venv"
        run([str(BIN / "uv"), "venv", "--quiet", str(uv_venv)], env=client_env())
        run(
            [
                str(BIN / "uv"),
                "pip",
                "install",
                "--python",
                str(uv_venv / "bin/python"),
                "--index-url",
                server.index_url,
                "blobpi-demo-app",
            ],
            env=client_env(),
        )
        listed = run(
            [str(BIN / "uv"), "pip", "list", "--python", str(uv_venv / "bin/python")],
            env=client_env(),
        ).stdout
        assert "blobpi-demo-app" in listed and "blobpi-demo-lib" in listed


def test_install__pip_refuses_a_wrong_hash(store_spec: StoreSpec, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "blobpi-demo-lib", "1.0")
    _upload(store_spec, wheel)
    with Server.start(store_spec.spec, store_spec.environ, tmp_path) as server:
        python = make_venv(tmp_path / "venv")
        requirements = tmp_path / "requirements.txt"
        requirements.write_text(f"blobpi-demo-lib==1.0 --hash=sha256:{'0' * 64}\n")
        pip = [str(python), "-m", "pip", "install", "--index-url", server.index_url]
        result = run(
            [*pip, "--require-hashes", "-r", str(requirements)], env=client_env(), check=False
        )
        assert result.returncode != 0
        assert "DO NOT MATCH" in result.stdout + result.stderr
