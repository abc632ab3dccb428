"""The store as the CLI meets it: a mistyped ``--storage`` is an error, never a new index; a
read-only store is one line, never a traceback; partial files of killed writers go away."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from blobpi.mirror.core.errors import (
    BlobExists,
    BlobNotFound,
    ConfigError,
    HashMismatch,
    StorageUnavailable,
)
from blobpi.mirror.store.local import STALE_TMP_SECONDS, LocalStore
from tests.conftest import StoreSpec
from tests.support.dists import build_wheel
from tests.support.processes import BIN, client_env, run

# Commands that only change or read an index: none may create one.
NOT_CREATING = [
    ["token", "create", "--scope", "read"],
    ["token", "list"],
    ["token", "revoke", "nobody"],
    ["yank", "demo==1.0", "--reason", "broken"],
    ["unyank", "demo==1.0"],
    ["delete", "demo==1.0", "--yes"],
]


def _blobpi(spec: StoreSpec, *args: str) -> subprocess.CompletedProcess[str]:
    env = client_env(spec.environ)
    return run([str(BIN / "blobpi"), *args, "--storage", spec.spec], env, check=False)


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.startswith("blobpi: error: "), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args", NOT_CREATING, ids=lambda a: " ".join(a[:2]))
def test_hygiene__a_mistyped_storage_is_not_created(
    store_spec: StoreSpec, tmp_path: Path, args: list[str]
) -> None:
    """Issue 10, defect 18: token, yank and list commands refuse a store that is not there."""
    if store_spec.kind == "local":
        store_spec = StoreSpec("local", str(tmp_path / "typo"), {})
    _one_line_error(_blobpi(store_spec, *args), "does not exist")
    if store_spec.kind == "local":
        assert not (tmp_path / "typo").exists()
    else:

        async def _exists() -> bool:
            async with store_spec.open() as store:
                try:
                    await store.ensure(create=False)
                except Exception:
                    return False
                return True

        assert not anyio.run(_exists)


@contextlib.contextmanager
def _read_only_store(path: Path) -> Iterator[None]:
    """A real read-only file system (a tmpfs remounted ro) holding an index; as a normal
    user a directory without write permission does the same."""
    path.mkdir()
    if os.geteuid() != 0:
        yield from _chmod_read_only(path)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(path)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        _seed(path)
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _chmod_read_only(path: Path) -> Iterator[None]:
    _seed(path)
    for directory, _, _ in os.walk(path):
        os.chmod(directory, 0o555)
    try:
        yield
    finally:
        for directory, _, _ in os.walk(path):
            os.chmod(directory, 0o755)


def _seed(path: Path) -> None:
    wheel = build_wheel(path.parent / "dists", "demo", "1.0")
    result = run([str(BIN / "blobpi"), "upload", str(wheel), "--storage", str(path)], client_env())
    assert result.returncode == 0


@pytest.mark.slow
def test_hygiene__a_read_only_store_is_one_line(tmp_path: Path) -> None:
    """Issue 10, defect 18: sync, yank and token create on a read-only store each say so in
    one line, with the fix; nothing raw, and the served files stay readable."""
    storage = tmp_path / "ro"
    lock = tmp_path / "allowlist.txt"
    lock.write_text(f"demo==1.0 --hash=sha256:{'0' * 64}\n")
    spec = StoreSpec("local", str(storage), {})
    with _read_only_store(storage):
        before = sorted(p.relative_to(storage) for p in storage.rglob("*"))
        for args in (
            ["token", "create", "--scope", "read"],
            ["yank", "demo==1.0", "--reason", "broken"],
            ["sync", "--allowlist", str(lock), "--upstream", "http://127.0.0.1:9/simple/"],
        ):
            _one_line_error(_blobpi(spec, *args), "cannot write to", "permissions")
        assert sorted(p.relative_to(storage) for p in storage.rglob("*")) == before


def test_hygiene__partial_files_of_killed_writers_are_swept(tmp_path: Path) -> None:
    """Issue 10, defect 16: a writer removes stale ``.tmp`` files (a killed sync's), once,
    and leaves fresh ones (another writer's, in progress) alone."""
    store = LocalStore(tmp_path)
    tmp = tmp_path / ".tmp"
    tmp.mkdir()
    stale, fresh = tmp / "killed", tmp / "in-progress"
    stale.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y")
    old = time.time() - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    anyio.run(lambda: store.put("state/x.json", b"{}"))
    assert not stale.exists() and fresh.exists()
    assert sorted(p.name for p in tmp.iterdir()) == ["in-progress"]


def test_hygiene__writes_never_create_the_directory(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "typo")
    with pytest.raises(ConfigError, match="does not exist: check --storage"):
        anyio.run(lambda: store.put("state/x.json", b"{}"))
    assert not (tmp_path / "typo").exists()
    anyio.run(store.ensure)  # the one way in
    anyio.run(lambda: store.put("state/x.json", b"{}"))


def test_hygiene__a_write_leaves_no_partial_file_whether_it_succeeds_or_fails(
    tmp_path: Path,
) -> None:
    """The local store opens its temporary file on the first chunk and closes and removes it
    in the worker thread: nothing stays in ``.tmp`` after a streamed write, one from memory,
    a refused hash, an empty body, or a stream that fails midway."""
    store = LocalStore(tmp_path)
    data = b"z" * 100_000

    async def _chunks(fail: bool = False) -> AsyncIterator[bytes]:
        yield data[:60_000]
        if fail:
            raise OSError(errno.EIO, "the network went away")
        yield data[60_000:]

    async def _empty() -> AsyncIterator[bytes]:
        return
        yield b""

    async def _writes() -> None:
        await store.ensure()
        sha = hashlib.sha256(data).hexdigest()
        assert (await store.put("a/streamed", _chunks(), sha256=sha)).size == len(data)
        await store.put("a/whole", data, create_only=True)
        with pytest.raises(HashMismatch):
            await store.put("a/refused", _chunks(), sha256="0" * 64)
        with pytest.raises(StorageUnavailable):
            await store.put("a/cut", _chunks(fail=True))
        assert (await store.put("a/empty", _empty())).size == 0
        with pytest.raises(BlobNotFound):
            await store.head("a/refused")
        with pytest.raises(BlobNotFound):
            await store.head("a/cut")

    anyio.run(_writes)
    assert (tmp_path / "a" / "streamed").read_bytes() == data
    assert (tmp_path / "a" / "empty").read_bytes() == b""
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_hygiene__a_one_chunk_stream_is_written_in_one_hop_like_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream of one chunk (most files of a sync) is written in one worker-thread hop, as
    bytes are, with the same guarantees: its bytes and metadata stored, its hash checked
    (a mismatch stores nothing), write-once refused, nothing left in ``.tmp``; a stream of
    more chunks still goes through the writer, in order."""
    store = LocalStore(tmp_path)
    data = b"w" * 50_000
    sha = hashlib.sha256(data).hexdigest()
    hops: list[str] = []
    real = anyio.to_thread.run_sync

    async def _counted(function: object, *args: object, **kwargs: object) -> object:
        hops.append(getattr(function, "__name__", "?"))
        return await real(function, *args, **kwargs)  # type: ignore[arg-type]

    async def _one(body: bytes) -> AsyncIterator[bytes]:
        yield body

    async def _three() -> AsyncIterator[bytes]:
        for piece in (data[:10], data[10:20_000], data[20_000:]):
            yield piece

    async def _writes() -> None:
        await store.ensure()
        monkeypatch.setattr(anyio.to_thread, "run_sync", _counted)
        info = await store.put("a/one", _one(data), sha256=sha, metadata={"origin": "mirror"})
        assert (info.size, hops) == (len(data), ["_whole"])
        assert (await store.head("a/one")).metadata["origin"] == "mirror"
        with pytest.raises(HashMismatch):
            await store.put("a/refused", _one(data), sha256="0" * 64)
        with pytest.raises(BlobNotFound):
            await store.head("a/refused")
        with pytest.raises(BlobExists):
            await store.put("a/one", _one(b"other"), create_only=True)
        hops.clear()
        assert (await store.put("a/three", _three(), sha256=sha)).size == len(data)
        assert hops.count("_write") == 3 and hops[-1] == "_finish"

    anyio.run(_writes)
    assert (tmp_path / "a" / "one").read_bytes() == data
    assert (tmp_path / "a" / "three").read_bytes() == data
    assert list((tmp_path / ".tmp").iterdir()) == []
