"""``blobpi lock`` with real uv against the local upstream, then ``blobpi sync`` and
``blobpi serve`` as processes, and real pip installs of the lock on two CPython versions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from blobpi.mirror.cli.main import main
from tests.support.dists import _BACKEND as BACKEND
from tests.support.dists import build_wheel, metadata_text, write_sdist
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
    return write_sdist(directory, top, files)


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


def test_lock__avoids_blocked_releases_and_diff_lists_advisories(
    upstream: LocalUpstream, tmp_path: Path
) -> None:
    from tests.support.osv import ghsa_record, pysec_record, write_archive

    osv = write_archive(
        tmp_path / "all.zip",
        [
            ghsa_record("GHSA-demo-two0-high", "demo", "2.0", None, "HIGH"),
            pysec_record("PYSEC-2025-3", "helper", "0", "9.0"),  # no severity: listed, allowed
        ],
    )
    source = tmp_path / "allowlist.in"
    source.write_text("demo\n# blobpi: waive PYSEC-2025-3 until 2999-12-31: offline use only\n")
    (tmp_path / "blobpi.toml").write_text('[lock]\npython-versions = ["3.12"]\n')
    env = client_env(
        {"BLOBPI_UPSTREAM": upstream.index_url, "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml")}
    )
    plain, safe = tmp_path / "plain.txt", tmp_path / "safe.txt"
    _blobpi("lock", str(source), "-o", str(plain), env=env)
    assert "demo==2.0 \\" in plain.read_text()  # without the database: the newest
    wrote = _blobpi("lock", str(source), "-o", str(safe), "--osv", str(osv), env=env)
    assert "advisories: chose demo==1.0 over 2.0 (GHSA-demo-two0-high)" in wrote
    text = safe.read_text()
    assert "demo==1.0 \\" in text and "helper" not in text
    # the waiver is carried into the lock, where the sync reads it
    assert "# blobpi: waive PYSEC-2025-3 until 2999-12-31: offline use only" in text
    diff = _blobpi("lock", "--diff", str(plain), str(safe), "--osv", str(osv), env=env)
    assert "### Advisories: 0 added, 2 removed; 0 blocking in the new lock" in diff
    assert "- removed: demo==2.0: GHSA-demo-two0-high (high, no fixed version) BLOCKED" in diff
    assert "- removed: helper==1.0: PYSEC-2025-3 (severity unknown, fixed in 9.0) allowed" in diff
    back = _blobpi("lock", "--diff", str(safe), str(plain), "--osv", str(osv), env=env)
    assert "### Advisories: 2 added, 0 removed; 1 blocking in the new lock" in back
    assert "- **blocking** `demo==2.0` (GHSA-demo-two0-high): waive it" in back


def _setup_py_sdist(directory: Path) -> Path:
    """An sdist-only project with a setup.py and no pyproject.toml (docopt's shape)."""
    top = "oldstyle-1.0"
    files = {
        f"{top}/PKG-INFO": metadata_text("oldstyle", "1.0").encode(),
        f"{top}/setup.py": b"from setuptools import setup\n"
        b"setup(name='oldstyle', version='1.0', py_modules=['oldstyle'])\n",
        f"{top}/oldstyle.py": b"VERSION = '1.0'\n",
    }
    return write_sdist(directory, top, files)


def test_lock__setup_py_project_installs_with_old_and_new_pip(tmp_path: Path) -> None:
    """pip 23.2.1 (what python3.11 -m venv bundles) builds a project without pyproject.toml
    with setuptools and wheel, today's pip with setuptools alone: the lock holds both, and
    --require-hashes installs work from the mirror with each, in fresh venvs, no cache."""
    import importlib.metadata as md

    from tests.deploy.wheelhouse import repack

    python = Path("/root/.pyenv/versions/3.11.7/bin/python")
    if not python.exists():
        pytest.skip(f"needs CPython at {python}")
    built = tmp_path / "dists"
    built.mkdir()
    with LocalUpstream.start() as up:
        up.add(_setup_py_sdist(built))
        # the test venv's own, packed back into wheels (wheel needs packaging)
        for backend in ("setuptools", "wheel", "packaging"):
            up.add(repack(md.distribution(backend), built))
        (tmp_path / "allowlist.in").write_text("oldstyle\n")
        (tmp_path / "blobpi.toml").write_text('[lock]\npython-versions = ["3.11"]\n')
        env = client_env(
            {"BLOBPI_UPSTREAM": up.index_url, "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml")}
        )
        lock = tmp_path / "allowlist.txt"
        _blobpi("lock", str(tmp_path / "allowlist.in"), "-o", str(lock), env=env)
        text = lock.read_text()
        assert "setuptools==" in text and "wheel==" in text, text
        assert "# via build backend of oldstyle==1.0" in text
        storage = str(tmp_path / "data")
        out = _blobpi("sync", "--allowlist", str(lock), "--storage", storage, env=env)
        assert "0 failed" in out, out
    pip_wheel = repack(md.distribution("pip"), built)  # the newest pip, offline
    with Server.start(storage, {}, tmp_path) as server:
        for label in ("pip-23.2.1", "newest-pip"):
            venv = tmp_path / label
            run([str(python), "-m", "venv", str(venv)], env=client_env())
            if label == "newest-pip":
                run(
                    [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", "--no-index",
                     str(pip_wheel)],
                    env=client_env(),
                )  # fmt: skip
            version = run([str(venv / "bin/python"), "-m", "pip", "--version"], env=client_env())
            assert version.stdout.startswith("pip 23.2.1" if label == "pip-23.2.1" else "pip 2")
            install_lock(venv / "bin/python", server.index_url, lock)
            got = run(
                [str(venv / "bin/python"), "-c", "import oldstyle; print(oldstyle.VERSION)"],
                env=client_env(),
            )
            assert got.stdout.strip() == "1.0"


def test_lock__cool_down_and_the_urgent_override(tmp_path: Path) -> None:
    import datetime as dt

    built = tmp_path / "dists"
    fresh = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with LocalUpstream.start() as up:
        up.add(build_wheel(built, "helper", "1.0"))  # uploaded long ago
        up.add(build_wheel(built, "helper", "1.1"), upload_time=fresh)  # the urgent fix
        source = tmp_path / "allowlist.in"
        (tmp_path / "blobpi.toml").write_text(
            '[lock]\npython-versions = ["3.12"]\n[sync]\nmin-age-hours = 48\n'
        )
        env = client_env(
            {"BLOBPI_UPSTREAM": up.index_url, "BLOBPI_CONFIG": str(tmp_path / "blobpi.toml")}
        )
        lock = tmp_path / "allowlist.txt"
        source.write_text("helper\n")
        _blobpi("lock", str(source), "-o", str(lock), env=env)
        assert "helper==1.0 \\" in lock.read_text()  # 1.1 is inside the cool-down
        source.write_text("helper>=1.1  # blobpi: urgent: fixes CVE-2025-1\n")
        _blobpi("lock", str(source), "-o", str(lock), env=env)
        assert "helper==1.1 \\" in lock.read_text()
        source.write_text("helper  # blobpi: urgent:\n")
        failed = run([str(BIN / "blobpi"), "lock", str(source)], env=env, check=False)
        assert failed.returncode == 1 and "an urgent override needs a reason" in failed.stderr
