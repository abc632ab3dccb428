"""``blobpi check`` against real stores (a directory, Azurite) and a real local upstream: a
healthy index passes; each kind of damage fails or warns with the file named and a fix."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.layout import metadata_path
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.io.history import record_run
from blobpi.sync.io.report import Report
from tests.conftest import StoreSpec
from tests.support.dists import build_sdist, build_wheel
from tests.support.upstream import LocalUpstream


def _check(
    capsys: pytest.CaptureFixture[str], spec: StoreSpec, *args: str, **env: str
) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--storage", spec.spec, "--json", *args], {**spec.environ, **env})
    out = capsys.readouterr().out
    return code, {c["name"]: c for c in json.loads(out)["checks"]}


def _fill(spec: StoreSpec, tmp: Path) -> None:
    async def _run() -> None:
        async with spec.open() as store:
            await store.ensure()
            for path in (build_wheel(tmp, "demo", "1.0"), build_sdist(tmp, "demo", "1.0")):
                with path.open("rb") as f:
                    await publish(store, path.name, f, max_bytes=10**8)

    anyio.run(_run)


def _change(spec: StoreSpec, change: Any) -> Any:
    async def _run() -> Any:
        async with spec.open() as store:
            return await change(store)

    return anyio.run(_run)


async def _wheel_path(store: BlobStore) -> str:
    page = await read_project(store, "demo")  # type: ignore[arg-type]
    assert page is not None
    path = next(f.blob_path for f in page.files if f.filename.endswith(".whl"))
    assert path is not None
    return path


def test_check__a_healthy_index_passes(
    store_spec: StoreSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(store_spec, tmp_path)
    code, checks = _check(capsys, store_spec, "--role", "server", "--deep")
    assert code == 0, checks
    assert (
        {n: c["status"] for n, c in checks.items() if c["status"] != "skip"}
        == {
            "storage": "ok",
            "identity": "ok",
            "delegation": "ok",
            "pages": "ok",
            "orphans": "ok",
            "temporary": "ok",
            "rehash": "ok",
        }
        if store_spec.kind == "azurite"
        else {
            "storage": "ok",
            "pages": "ok",
            "orphans": "ok",
            "temporary": "ok",
            "rehash": "ok",
        }
    )
    assert checks["rehash"]["detail"].startswith("3 files re-hashed")  # 2 files + 1 .metadata
    assert "AccountKey" not in json.dumps(checks)


def test_check__missing_metadata_orphans_and_changed_bytes_are_named(
    store_spec: StoreSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(store_spec, tmp_path)

    async def damage(store: BlobStore) -> str:
        wheel = await _wheel_path(store)
        await store.delete(metadata_path(wheel))
        await store.put("packages/zz/zz/stray/stray-1.0.tar.gz", b"stray")
        # same size, same sha256 metadata, other bytes: only --deep can tell
        blob = await store.get(wheel)
        assert blob is not None
        flipped = bytes([blob.data[0] ^ 1]) + blob.data[1:]
        await store.put(wheel, flipped, metadata=dict(blob.info.metadata))
        return wheel

    wheel = _change(store_spec, damage)
    code, checks = _check(capsys, store_spec, "--role", "server")
    assert code == 1
    assert checks["pages"]["status"] == "fail"
    assert checks["pages"]["items"] == [
        "demo: demo-1.0-py3-none-any.whl: its PEP 658 .metadata file is missing"
    ]
    assert "rerun 'blobpi sync'" in checks["pages"]["fix"]
    assert checks["orphans"]["status"] == "warn"
    assert checks["orphans"]["items"] == ["packages/zz/zz/stray/stray-1.0.tar.gz"]
    assert "rehash" not in checks
    code, checks = _check(capsys, store_spec, "--role", "server", "--deep")
    (differs,) = checks["rehash"]["items"]
    assert checks["rehash"]["status"] == "fail"
    assert differs.startswith("demo: demo-1.0-py3-none-any.whl: sha256 ")
    assert wheel  # the page still links it: the file is named, not only counted


def test_check__leftover_temporary_files_warn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = StoreSpec("local", str(tmp_path / "data"), {})
    _fill(spec, tmp_path)
    stale, fresh = tmp_path / "data/.tmp/deadbeef", tmp_path / "data/.tmp/inflight"
    stale.write_bytes(b"half a file")
    fresh.write_bytes(b"a write in flight")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    code, checks = _check(capsys, spec, "--role", "server")
    assert code == 0  # a warning is not a failure
    assert checks["temporary"]["status"] == "warn"
    assert checks["temporary"]["items"] == [str(stale)]


def test_check__upstream_and_stale_lock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = StoreSpec("local", str(tmp_path / "data"), {})
    (tmp_path / "data").mkdir()  # only upload and sync create a store; check never does
    (tmp_path / "allowlist.in").write_text("demo\nrich<14\n")
    (tmp_path / "allowlist.txt").write_text("demo==1.0 --hash=sha256:" + "0" * 64 + "\n")
    with LocalUpstream.start() as upstream:
        upstream.add(build_wheel(tmp_path / "up", "demo", "1.0"))
        args = ("--allowlist", str(tmp_path / "allowlist.txt"), "--upstream", upstream.index_url)
        code, checks = _check(capsys, spec, *args)
        assert checks["upstream"]["status"] == "ok"
        assert "speaks PEP 691 (api-version 1." in checks["upstream"]["detail"]
        assert checks["storage-write"]["status"] == "ok"
        assert code == 1 and checks["lock"]["status"] == "fail"
        assert "'rich<14' has no matching pin in allowlist.txt" in checks["lock"]["items"]
        assert checks["lock"]["fix"].startswith("run 'blobpi lock")
        upstream.html_only = True
        _, checks = _check(capsys, spec, *args)
        assert (
            checks["upstream"]["status"] == "warn" and "HTML only" in checks["upstream"]["detail"]
        )
    _, checks = _check(capsys, spec, "--allowlist", str(tmp_path / "allowlist.txt"),
                       "--upstream", "http://127.0.0.1:9/simple/")  # fmt: skip
    assert checks["upstream"]["status"] == "fail"
    assert "check --upstream" in checks["upstream"]["fix"]


def test_check__text_output_one_line_per_check_with_fixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = StoreSpec("local", str(tmp_path / "data"), {})
    _fill(spec, tmp_path)
    _change(spec, lambda store: store.put("packages/zz/zz/stray/x-1.0.tar.gz", b"x"))
    code = main(["check", "--storage", spec.spec, "--role", "server"], {})
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("ok    storage: ")
    assert "warn  orphans: 1 blobs no page links" in out
    assert any(line.strip().startswith("fix: harmless") for line in out)
    assert out[-1] == "8 checks: 3 ok, 1 warning, 0 failed, 4 skipped"


def test_check__the_last_sync_of_each_shard(
    store_spec: StoreSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed last run fails the check (the container does not match its lock), a shard
    with no success for days warns, and a later success clears both."""
    _fill(store_spec, tmp_path)
    now = dt.datetime.now(dt.UTC)

    async def _record(report: Report, when: dt.datetime, wrote: bool) -> None:
        async with store_spec.open() as store:
            assert await record_run(
                store, report, "https://up.example/simple/", [], when, wrote=wrote
            )

    anyio.run(
        _record, Report(shard="1/2", projects=2, added=["a"]), now - dt.timedelta(days=3), True
    )
    code, checks = _check(capsys, store_spec, "--role", "server")
    assert (
        checks["last sync"]["status"] == "warn"
        and "1/2: last success" in checks["last sync"]["items"][0]
    )
    failed = Report(shard="2/2", failed=["six-1.0.tar.gz: 18 files are on https://f.example"])
    anyio.run(_record, failed, now, False)
    code, checks = _check(capsys, store_spec, "--role", "server")
    assert code == 1 and checks["last sync"]["status"] == "fail"
    assert checks["last sync"]["items"] == [
        "2/2: six-1.0.tar.gz: 18 files are on https://f.example"
    ]
    for shard in ("1/2", "2/2"):
        anyio.run(_record, Report(shard=shard, projects=1), now, True)
    code, checks = _check(capsys, store_spec, "--role", "server")
    assert code == 0 and checks["last sync"]["status"] == "ok", checks["last sync"]
