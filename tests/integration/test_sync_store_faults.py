"""The fault suite, store side: the store fails under a running ``blobpi sync``.

- Azurite stopped mid-sync, then restarted on its port with its data;
- the sync's lease broken by another client mid-sync (on Azurite);
- a full disk (a small tmpfs when the tests may mount one, else ``RLIMIT_FSIZE``);
- a read-only store directory.

For each: a one-line error and a non-zero exit (or a retry that succeeds), the pages served
before are unchanged or every invariant holds, and the next run converges.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from blobpi.mirror.store.local import LocalStore
from blobpi.mirror.store.protocol import open_store
from tests.support.dists import build_wheel
from tests.support.invariants import check_invariants, snapshot_pages
from tests.support.processes import BIN, Azurite, client_env, free_port, run, stop, wait_until
from tests.support.upstream import LocalUpstream

pytestmark = pytest.mark.slow
NAMES = [f"proj{i}" for i in range(6)]


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[LocalUpstream]:
    with LocalUpstream.start() as up:
        for name in NAMES:
            up.add(build_wheel(tmp_path / "d", name, "1.0", payload_bytes=300_000))
        yield up


def _env(tmp_path: Path, upstream: LocalUpstream, storage: str, **extra: str) -> dict[str, str]:
    (tmp_path / "allowlist.txt").write_text("\n".join(NAMES) + "\n")
    (tmp_path / "c.toml").write_text("[sync]\nretries = 1\nbackoff = 0.05\ntimeout = 5\n")
    return client_env(
        {
            "BLOBPI_STORAGE": storage,
            "BLOBPI_ALLOWLIST": str(tmp_path / "allowlist.txt"),
            "BLOBPI_UPSTREAM": upstream.index_url,
            "BLOBPI_CONFIG": str(tmp_path / "c.toml"),
            **extra,
        }
    )


def _start_sync(env: dict[str, str]) -> subprocess.Popen[str]:
    """``blobpi sync`` in the background, so that the store can fail while it runs."""
    command = [str(BIN / "blobpi"), "sync"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finished(sync: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = sync.communicate(timeout=120)
    return subprocess.CompletedProcess(sync.args, sync.returncode, out, err)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("blobpi: error:")]
    assert errors, result.stderr
    return errors[0]


async def _invariants(spec: str, connection: str | None = None) -> set[str]:
    async with open_store(spec, connection) as store:
        return await check_invariants(store)


def test_store_faults__azurite_stopped_mid_sync_then_restarted(
    tmp_path: Path, upstream: LocalUpstream
) -> None:
    port = free_port()
    data = tmp_path / "azurite"
    with Azurite.start(location=data, port=port) as first:
        spec, connection = first.new_container_url(), first.connection_string
        env = _env(tmp_path, upstream, spec, AZURE_STORAGE_CONNECTION_STRING=connection)
        upstream.add(build_wheel(tmp_path / "d", "proj0", "0.9"))
        (tmp_path / "allowlist.txt").write_text("proj0\n")
        run([str(BIN / "blobpi"), "sync"], env=env)  # what is served before the fault
        served = anyio.run(_invariants, spec, connection)
        (tmp_path / "allowlist.txt").write_text("\n".join(NAMES) + "\n")
        upstream.file_delay = 1.0
        sync = _start_sync(env)
        wait_until(lambda: upstream.count("/packages/") >= 1, what="the first download")
        stop(first.process)  # the store goes away while files stream
        failed = _finished(sync)
    line = _one_line_error(failed)
    assert "storage" in line.lower() or "store" in line.lower() or "reach" in line.lower(), line
    upstream.file_delay = 0.0
    with Azurite.start(location=data, port=port):
        assert anyio.run(_invariants, spec, connection) >= served  # served as before
        assert "0 failed" in run([str(BIN / "blobpi"), "sync"], env=env).stdout
        listed = anyio.run(_invariants, spec, connection)
        assert {f.split("-")[0] for f in listed} == set(NAMES)


def test_store_faults__lease_broken_mid_sync(
    tmp_path: Path, upstream: LocalUpstream, azurite: Azurite
) -> None:
    from azure.storage.blob import BlobClient, BlobLeaseClient

    spec = azurite.new_container_url()
    env = _env(
        tmp_path,
        upstream,
        spec,
        AZURE_STORAGE_CONNECTION_STRING=azurite.connection_string,
    )
    (tmp_path / "c.toml").write_text("[sync]\nretries = 1\ntimeout = 60\n")
    upstream.file_delay = 25.0  # past the first renewal (every 20 s), when the loss shows
    sync = _start_sync(env)
    try:
        wait_until(lambda: upstream.count("/packages/") >= 1, what="the first download")
        container = spec.rsplit("/", 1)[1]
        lock = BlobClient.from_connection_string(
            azurite.connection_string, container, "state/sync.lock"
        )
        BlobLeaseClient(lock).break_lease(lease_break_period=0)  # another client takes over
        failed = _finished(sync)
    finally:
        sync.kill()
    assert "lost the lease" in _one_line_error(failed)
    anyio.run(_invariants, spec, azurite.connection_string)
    upstream.file_delay = 0.0
    assert "0 failed" in run([str(BIN / "blobpi"), "sync"], env=env).stdout
    assert len(anyio.run(_invariants, spec, azurite.connection_string)) == len(NAMES)


@contextlib.contextmanager
def _small_disk(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path`` when this process may mount one (root in a
    container); yields whether it did."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def _fsize_limit(limit: int) -> None:  # in the child: files may not grow past ``limit``
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_store_faults__full_disk_is_one_line_and_the_next_run_converges(
    tmp_path: Path, upstream: LocalUpstream
) -> None:
    storage = tmp_path / "disk"
    env = _env(tmp_path, upstream, str(storage))
    with _small_disk(storage, "1m") as mounted:
        (tmp_path / "allowlist.txt").write_text("proj0\n")  # fits: 300 KB
        run([str(BIN / "blobpi"), "sync"], env=env)
        before = anyio.run(_snapshot, storage)
        (tmp_path / "allowlist.txt").write_text("\n".join(NAMES) + "\n")  # 1.8 MB: does not
        full = subprocess.run(
            [str(BIN / "blobpi"), "sync"],
            env=env,
            capture_output=True,
            text=True,
            preexec_fn=None if mounted else lambda: _fsize_limit(200_000),
        )
        line = _one_line_error(full)
        assert "space" in line.lower() or "too large" in line.lower() or "disk" in line, line
        anyio.run(_invariants, str(storage))
        assert (
            anyio.run(_snapshot, storage)["simple/proj0/index.v1_json"]
            == before["simple/proj0/index.v1_json"]
        )
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=8m", str(storage)], check=True)
        result = run([str(BIN / "blobpi"), "sync"], env=env)
        assert "0 failed" in result.stdout
        assert len(anyio.run(_invariants, str(storage))) == len(NAMES)


async def _snapshot(storage: Path) -> dict[str, bytes]:
    async with LocalStore(storage) as store:
        return await snapshot_pages(store)


def test_store_faults__read_only_store_is_one_line_and_changes_nothing(
    tmp_path: Path, upstream: LocalUpstream
) -> None:
    storage = tmp_path / "ro"
    env = _env(tmp_path, upstream, str(storage))
    (tmp_path / "allowlist.txt").write_text("proj0\n")
    run([str(BIN / "blobpi"), "sync"], env=env)
    before = anyio.run(_snapshot, storage)
    (tmp_path / "allowlist.txt").write_text("\n".join(NAMES) + "\n")
    with _read_only(storage):
        line = _one_line_error(
            subprocess.run([str(BIN / "blobpi"), "sync"], env=env, capture_output=True, text=True)
        )
        assert "read-only" in line.lower() or "permission" in line.lower(), line
        assert anyio.run(_snapshot, storage) == before
    assert "0 failed" in run([str(BIN / "blobpi"), "sync"], env=env).stdout


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` read-only: a read-only bind mount for root (who ignores modes), else modes."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["umount", "-l", str(path)], check=False)
        return
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)
