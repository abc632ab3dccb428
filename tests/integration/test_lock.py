"""``blobpi lock`` with real uv against the local upstream, then ``blobpi sync`` and
``blobpi serve`` as processes, and real pip installs of the lock on two CPython versions."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from blobpi.mirror.cli.main import main
from tests.support.dists import _BACKEND as BACKEND
from tests.support.dists import build_wheel, metadata_text
from tests.support.processes import BIN, Server, client_env, run
from tests.support.upstream import LocalUpstream, install_lock

pytestmark = pytest.mark.slow

PYTHONS = {v: Path(f"/root/.pyenv/versions/{v}/bin/python") for v in ("3.10.13", "3.12.1")}


def _sdist_needing_backend(directory: Path) -> Path:
    """An sdist-only project whose build needs ``flitish`` from the index (PEP 518)."""
    top = "legacy-1.0"
    files = {
        f"{top}/PKG-INFO": metadata_text("legacy", "1.0").encode(),
        f"{top}/pyproject.toml": b'[build-system]\nrequires = ["flitish>=1"]\n'
        b'build-backend = "backend"\nbackend-path = ["."]\n',
        f"{top}/backend.py": BACKEND.encode(),
        f"{top}/src/legacy.py": b"VERSION = '1.0'\n",
    }
    path = directory / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[LocalUpstream]:
    built = tmp_path / "dists"
    with LocalUpstream.start() as up:
        up.add(build_wheel(built, "demo", "1.0", requires_python=">=3.8"))
        up.add(build_wheel(built, "demo", "2.0", requires_python=">=3.11", requires=["helper"]))
        up.add(build_wheel(built, "helper", "1.0"))
        up.add(build_wheel(built, "flitish", "1.0"))
        up.add(_sdist_needing_backend(built))
        yield up


def _blobpi(*args: str, env: dict[str, str], check: bool = True) -> str:
    result = run([str(BIN / "blobpi"), *args], env=env, check=check)
    return result.stdout + result.stderr


def test_lock__resolves_per_target_and_installs_on_two_pythons(
    upstream: LocalUpstream, tmp_path: Path
) -> None:
    missing = [str(p) for p in PYTHONS.values() if not p.exists()]
    if missing:
        pytest.skip(f"needs CPython at {missing}")
    (tmp_path / "allowlist.in").write_text("demo\nlegacy  # sdist only\n")
    (tmp_path / "blobpi.toml").write_text(
        '[lock]\npython-versions = ["3.10", "3.12"]\nplatforms = ["x86_64-manylinux_2_28"]\n'
    )
    env = client_env({"BLOBPI_UPSTREAM": upstream.index_url})
    lock = tmp_path / "allowlist.txt"
    cwd_args = ["--config", str(tmp_path / "blobpi.toml")]
    _blobpi("lock", str(tmp_path / "allowlist.in"), "-o", str(lock), *cwd_args, env=env)
    text = lock.read_text()
    assert "blobpi lock allowlist.in -o allowlist.txt" in text
    assert 'demo==1.0 ; python_version == "3.10"' in text
    assert 'demo==2.0 ; python_version == "3.12"' in text
    assert 'helper==1.0 ; python_version == "3.12"' in text
    assert "legacy==1.0 \\" in text
    assert "flitish==1.0 \\" in text and "# via build backend of legacy==1.0" in text
    assert "is current" in _blobpi(
        "lock", str(tmp_path / "allowlist.in"), "--check", *cwd_args, env=env
    )

    # The container job's way: configured by environment variables alone.
    storage = str(tmp_path / "data")
    sync_env = {
        **env,
        "BLOBPI_STORAGE": storage,
        "BLOBPI_ALLOWLIST": str(lock),
        "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml"),
    }
    out = _blobpi("sync", env=sync_env)
    assert "0 failed" in out and "5 files added" in out, out
    with Server.start(storage, {}, tmp_path) as server:
        for version, python in PYTHONS.items():
            venv = tmp_path / f"venv-{version}"
            # uv seeds a current pip (the one ensurepip bundles with 3.10 misreads PEP 714 keys)
            run(
                [str(BIN / "uv"), "venv", "--quiet", "--seed", "--python", str(python), str(venv)],
                env=client_env(),
            )
            install_lock(venv / "bin/python", server.index_url, lock)
            got = run(
                [str(venv / "bin/python"), "-c", "import demo; print(demo.VERSION)"],
                env=client_env(),
            ).stdout.strip()
            assert got == ("1.0" if version.startswith("3.10") else "2.0")


def test_lock__check_and_diff_say_what_changed(upstream: LocalUpstream, tmp_path: Path) -> None:
    source = tmp_path / "allowlist.in"
    source.write_text("helper\n")
    (tmp_path / "blobpi.toml").write_text('[lock]\npython-versions = ["3.12"]\n')
    env = client_env(
        {"BLOBPI_UPSTREAM": upstream.index_url, "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml")}
    )
    old = tmp_path / "old.txt"
    wrote = _blobpi("lock", str(source), "-o", str(old), env=env)
    assert "1 pin for 1 Python version x 1 platform\n" in wrote
    source.write_text("helper\ndemo\n")
    stale = run(
        [str(BIN / "blobpi"), "lock", str(source), "-o", str(old), "--check"], env=env, check=False
    )
    assert stale.returncode == 1
    assert "old.txt is stale" in stale.stderr and "'demo' has no matching pin" in stale.stderr
    new = tmp_path / "new.txt"
    _blobpi("lock", str(source), "-o", str(new), env=env)
    diff = _blobpi("lock", "--diff", str(old), str(new), env=env)
    assert "1 added, 0 removed, 0 changed" in diff
    assert "- added `demo==2.0` (via allowlist.in)" in diff


def test_lock__unresolvable_input_is_one_line(upstream: LocalUpstream, tmp_path: Path) -> None:
    source = tmp_path / "allowlist.in"
    source.write_text("helper\nno-such-project\n")
    (tmp_path / "blobpi.toml").write_text('[lock]\npython-versions = ["3.12"]\n')
    env = client_env(
        {"BLOBPI_UPSTREAM": upstream.index_url, "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml")}
    )
    failed = run([str(BIN / "blobpi"), "lock", str(source)], env=env, check=False)
    assert failed.returncode == 1 and len(failed.stderr.strip().splitlines()) == 1
    assert failed.stderr.startswith("blobpi: error: resolving allowlist.in for CPython 3.12")
    assert "no-such-project" in failed.stderr
    assert not (tmp_path / "allowlist.txt").exists()


def test_lock__diff_names_a_missing_or_unlocked_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty, source = tmp_path / "empty.txt", tmp_path / "allowlist.in"
    empty.write_text("")  # what the workflow writes when the base branch has no lock
    source.write_text("# wanted\nattrs>=23\n")
    assert main(["lock", "--diff", str(empty), str(empty)], {}) == 0
    assert capsys.readouterr().out == "### Lock changes: none\n"
    assert main(["lock", "--diff", str(tmp_path / "nope.txt"), str(empty)], {}) == 1
    assert capsys.readouterr().err == (
        f"blobpi: error: cannot read the lock '{tmp_path}/nope.txt' (No such file or "
        "directory): pass two existing lock files (an empty file stands for no lock)\n"
    )
    assert main(["lock", "--diff", str(empty), str(source)], {}) == 1
    assert capsys.readouterr().err.startswith(
        f"blobpi: error: {source}:2: 'attrs>=23' is not an == pin, so {source} is not a lock"
    )
