"""PEP 751 ``pylock.toml`` round trips with real tools: blobpi writes one whose URLs are the
mirror's, the sync mirrors exactly its files, and pip (``-r pylock.toml``) and uv install it
from ``blobpi serve``, fetching nothing from the upstream; locks that ``pip lock`` and
``uv export`` wrote against the upstream sync as they are and install once ``blobpi lock
rewrite`` points them at the mirror, which refuses a lock naming a file it does not hold."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import build_wheel
from tests.support.processes import BIN, Server, client_env, make_venv, run
from tests.support.upstream import LocalUpstream

pytestmark = pytest.mark.slow


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[LocalUpstream]:
    built = tmp_path / "dists"
    with LocalUpstream.start() as up:
        up.add(build_wheel(built, "demo", "1.0", requires=["helper>=1"]))
        up.add(build_wheel(built, "helper", "1.0"))
        up.add(build_wheel(built, "helper", "1.1"))
        yield up


def _blobpi(*args: str, env: dict[str, str], check: bool = True) -> str:
    result = run([str(BIN / "blobpi"), *args], env=env, check=check)
    return result.stdout + result.stderr


def _installs_from_the_mirror(lock: Path, tmp_path: Path) -> None:
    """pip and uv install ``lock`` and get its versions."""
    pip_python = make_venv(tmp_path / "pip-venv")
    run([str(pip_python), "-m", "pip", "install", "-r", str(lock)], env=client_env())
    uv_venv = tmp_path / "uv-venv"
    run([str(BIN / "uv"), "venv", "--quiet", str(uv_venv)], env=client_env())
    uv_python = uv_venv / "bin" / "python"
    run(
        [str(BIN / "uv"), "pip", "install", "--python", str(uv_python), "-r", str(lock)],
        env=client_env(),
    )
    for python in (pip_python, uv_python):
        got = run([str(python), "-c", "import demo, helper; print(demo.VERSION, helper.VERSION)"])
        assert got.stdout.split() == ["1.0", "1.1"]


def test_pylock__blobpi_writes_the_mirrors_urls_syncs_and_pip_and_uv_install(
    upstream: LocalUpstream, tmp_path: Path
) -> None:
    storage = tmp_path / "data"
    storage.mkdir()
    (tmp_path / "allowlist.in").write_text("demo\n")
    (tmp_path / "blobpi.toml").write_text('[lock]\npython-versions = ["3.11"]\n')
    env = client_env(
        {
            "BLOBPI_UPSTREAM": upstream.index_url,
            "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml"),
            "BLOBPI_STORAGE": str(storage),
        }
    )
    lock = tmp_path / "pylock.toml"
    with Server.start(str(storage), {}, tmp_path) as server:
        wrote = _blobpi(
            "lock", str(tmp_path / "allowlist.in"), "--format", "pylock",
            "--index-url", server.index_url, env=env,
        )  # fmt: skip
        assert f"wrote {lock}" in wrote
        text = lock.read_text()
        locked = tomllib.loads(text)
        assert locked["lock-version"] == "1.0" and locked["created-by"] == "blobpi"
        assert [(p["name"], p["version"]) for p in locked["packages"]] == [
            ("demo", "1.0"),
            ("helper", "1.1"),
        ]
        # The layout keeps the upstream's paths, so the lock is the upstream's with our host.
        for name in ("demo-1.0-py3-none-any.whl", "helper-1.1-py3-none-any.whl"):
            assert f'"{server.url}{upstream.dists[name].url_path}"' in text
        assert f"127.0.0.1:{upstream.port}" not in text
        assert "is current" in _blobpi(
            "lock", str(tmp_path / "allowlist.in"), "-o", str(lock), "--check", env=env
        )
        # the check is offline: it needs no --index-url, even for --format pylock
        assert "is current" in _blobpi(
            "lock", str(tmp_path / "allowlist.in"), "--format", "pylock", "--check", env=env
        )

        synced = _blobpi("sync", "--allowlist", str(lock), env=env)
        assert "2 files added" in synced and "0 failed" in synced, synced
        unlocked = upstream.dists["helper-1.0-py3-none-any.whl"].url_path
        assert upstream.count(unlocked) == 0  # the sync fetched the lock's files only
        upstream_files = upstream.count("/packages/")
        _installs_from_the_mirror(lock, tmp_path)
        assert upstream.count("/packages/") == upstream_files  # nothing came from upstream


def _pip_lock(upstream: LocalUpstream, tmp_path: Path) -> Path:
    lock = tmp_path / "pylock.toml"
    run(
        [str(BIN / "python"), "-m", "pip", "lock", "demo", "--index-url", upstream.index_url,
         "-o", str(lock)],
        env=client_env(),
    )  # fmt: skip
    return lock


def _uv_export(upstream: LocalUpstream, tmp_path: Path) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["demo"]\n'
    )
    env = client_env({"UV_DEFAULT_INDEX": upstream.index_url})
    run([str(BIN / "uv"), "lock", "--directory", str(project)], env=env)
    lock = tmp_path / "pylock.toml"
    run(
        [str(BIN / "uv"), "export", "--directory", str(project), "--format", "pylock.toml",
         "--no-emit-project", "-o", str(lock)],
        env=env,
    )  # fmt: skip
    return lock


@pytest.mark.parametrize("write", [_pip_lock, _uv_export], ids=["pip-lock", "uv-export"])
def test_pylock__a_lock_from_pip_or_uv_syncs_rewrites_and_installs(
    upstream: LocalUpstream, tmp_path: Path, write: object
) -> None:
    assert callable(write)
    lock: Path = write(upstream, tmp_path)
    original = lock.read_text()
    assert f"127.0.0.1:{upstream.port}/packages/" in original  # the upstream's URLs
    storage = tmp_path / "data"
    storage.mkdir()
    env = client_env({"BLOBPI_UPSTREAM": upstream.index_url, "BLOBPI_STORAGE": str(storage)})
    with Server.start(str(storage), {}, tmp_path) as server:
        rewrite = ["lock", "rewrite", str(lock), "--index-url", server.index_url]
        refused = run([str(BIN / "blobpi"), *rewrite], env=env, check=False)
        assert refused.returncode == 1
        assert refused.stderr.count("\n") == 1 and "not in the mirror" in refused.stderr
        assert lock.read_text() == original  # nothing written

        synced = _blobpi("sync", "--allowlist", str(lock), env=env)
        assert "0 failed" in synced and "2 files added" in synced, synced
        assert "wrote" in _blobpi(*rewrite, env=env)
        text = lock.read_text()
        assert f"127.0.0.1:{upstream.port}" not in text
        for name in ("demo-1.0-py3-none-any.whl", "helper-1.1-py3-none-any.whl"):
            assert f"{server.url}{upstream.dists[name].url_path}" in text
        upstream_files = upstream.count("/packages/")
        _installs_from_the_mirror(lock, tmp_path)
        assert upstream.count("/packages/") == upstream_files


def test_rewrite__hashed_requirements_get_the_mirror_as_their_only_index(
    upstream: LocalUpstream, tmp_path: Path
) -> None:
    demo, helper = (
        upstream.dists["demo-1.0-py3-none-any.whl"],
        upstream.dists["helper-1.1-py3-none-any.whl"],
    )
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        f"--index-url {upstream.index_url}\n--extra-index-url {upstream.index_url}\n"
        f"demo==1.0 --hash=sha256:{demo.sha256}\n"
        f"helper @ http://127.0.0.1:{upstream.port}{helper.url_path}#sha256={helper.sha256}\n"
    )
    storage = tmp_path / "data"
    env = client_env({"BLOBPI_UPSTREAM": upstream.index_url, "BLOBPI_STORAGE": str(storage)})
    _blobpi("sync", "--allowlist", str(lock), env=env, check=False)  # a URL line is no entry
    (tmp_path / "sync.txt").write_text(
        f"demo==1.0 --hash=sha256:{demo.sha256}\nhelper==1.1 --hash=sha256:{helper.sha256}\n"
    )
    _blobpi("sync", "--allowlist", str(tmp_path / "sync.txt"), env=env)
    with Server.start(str(storage), {}, tmp_path) as server:
        _blobpi("lock", "rewrite", str(lock), "--index-url", server.index_url, env=env)
        lines = lock.read_text().splitlines()
        assert lines[0] == f"--index-url {server.index_url}"
        assert not any("extra-index-url" in line or str(upstream.port) in line for line in lines)
        assert f"helper @ {server.url}{helper.url_path}#sha256={helper.sha256}" in lines
        python = make_venv(tmp_path / "venv")
        run([str(python), "-m", "pip", "install", "-r", str(lock)], env=client_env())
    got = run([str(python), "-c", "import demo, helper; print(demo.VERSION, helper.VERSION)"])
    assert got.stdout.split() == ["1.0", "1.1"]
