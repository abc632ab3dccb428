"""The curation gate end to end: ``blobpi audit`` over a local OSV ``all.zip`` the tests
build, and ``blobpi sync`` holding back blocked pins, honouring waivers until they expire,
and taking malware down at once, against a real local upstream and both stores."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.layout import osv_archive_path, osv_source_path
from blobpi.mirror.core.settings import CurationConfig, SyncConfig
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.core.gate import parse_waivers
from blobpi.sync.io.apply import run_sync
from blobpi.sync.io.report import Report
from tests.support.dists import build_wheel
from tests.support.osv import ghsa_record, mal_record, pysec_record, write_archive
from tests.support.syncconfig import sync_config
from tests.support.upstream import Dist, LocalUpstream

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
GHSA = ghsa_record("GHSA-demo-demo-demo", "demo", "1.0", "1.1", "HIGH", ["CVE-2025-1"])
PYSEC = pysec_record("PYSEC-2025-9", "demo", "0", "1.1")  # no severity: allowed under "high"
MAL = mal_record("MAL-2026-42", "evil", ["1.0"])


@dataclasses.dataclass
class World:
    upstream: LocalUpstream
    dists: dict[str, Dist]
    tmp: Path

    def lock(self, *filenames: str, extra: str = "") -> str:
        return "\n".join(self.dists[filename].pin for filename in filenames) + "\n" + extra

    def osv(self, *records: dict[str, object]) -> Path:
        return write_archive(self.tmp / "all.zip", records)

    def config(self) -> SyncConfig:
        return sync_config(self.upstream, timeout=2.0, retries=1)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with LocalUpstream.start() as upstream:
        dists = {
            p.name: upstream.add(p)
            for p in (
                build_wheel(tmp_path / "d", "demo", "1.0"),
                build_wheel(tmp_path / "d", "demo", "1.1"),
                build_wheel(tmp_path / "d", "evil", "1.0"),
                build_wheel(tmp_path / "d", "fine", "2.0"),
            )
        }
        yield World(upstream, dists, tmp_path)


DEMO_OLD, DEMO_NEW = "demo-1.0-py3-none-any.whl", "demo-1.1-py3-none-any.whl"
EVIL, FINE = "evil-1.0-py3-none-any.whl", "fine-2.0-py3-none-any.whl"


def _audit(
    world: World, lock: str, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    path = world.tmp / "allowlist.txt"
    path.write_text(lock)
    code = main(["audit", str(path), *args], environ={})
    out, err = capsys.readouterr()
    return code, out, err


def test_audit__lists_advisories_and_blocks(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    osv = str(world.osv(GHSA, PYSEC, MAL))
    code, out, err = _audit(world, world.lock(DEMO_OLD, EVIL, FINE), capsys, "--osv", osv)
    assert code == 1
    assert "demo==1.0: GHSA-demo-demo-demo (high, fixed in 1.1) BLOCKED" in out
    assert "demo==1.0: PYSEC-2025-9 (severity unknown, fixed in 1.1) allowed" in out
    assert "evil==1.0: MAL-2026-42 (severity unknown, no fixed version) MALWARE" in out
    assert "fine" not in out.split("audited")[0]
    assert "audited 3 pins against 3 advisories" in out and "2 blocking" in out
    assert "blobpi: error: demo==1.0 is blocked by GHSA-demo-demo-demo: raise it to 1.1" in err
    assert "blobpi: error: evil==1.0 is blocked by MAL-2026-42: remove it" in err
    # the upgrade audits clean
    code, out, _ = _audit(world, world.lock(DEMO_NEW, FINE), capsys, "--osv", osv)
    assert code == 0 and "0 findings, 0 blocking" in out


@pytest.mark.parametrize(("until", "code"), [("2999-01-01", 0), ("2000-01-01", 1)])
def test_audit__waiver_and_expired_waiver(
    world: World, capsys: pytest.CaptureFixture[str], until: str, code: int
) -> None:
    waiver = f"# blobpi: waive CVE-2025-1 until {until}: we never follow redirects\n"
    osv = str(world.osv(GHSA))
    found, out, err = _audit(world, world.lock(DEMO_OLD, extra=waiver), capsys, "--osv", osv)
    assert found == code
    if code == 0:
        assert f"waived until {until} (" in out and "we never follow redirects" in out
    else:
        assert f"BLOCKED, waiver expired {until}" in out and "is blocked by GHSA" in err


def test_audit__without_a_database_says_how_to_get_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = str(world.tmp / "empty")
    code, _, err = _audit(world, world.lock(FINE), capsys, "--storage", storage)
    assert code == 1 and "no OSV database in" in err and "--osv all.zip" in err


pytestmark_sync = pytest.mark.anyio


async def _sync(
    store: BlobStore, world: World, lock: str, osv: Path, now: dt.datetime = NOW
) -> Report:
    return await run_sync(
        store,
        world.config(),
        parse_allowlist(lock),
        now=now,
        curation=CurationConfig(osv_url=str(osv), block_severity="high"),
        waivers=parse_waivers(lock),
    )


async def _files(store: BlobStore, name: str) -> list[str]:
    page = await read_project(store, name)  # type: ignore[arg-type]
    return [f.filename for f in page.files] if page else []


@pytest.mark.anyio
async def test_sync_gate__blocked_waived_expired(store: BlobStore, world: World) -> None:
    osv = world.osv(GHSA)
    lock = world.lock(DEMO_OLD, FINE)
    report = await _sync(store, world, lock, osv)
    assert not report.ok and await _files(store, "demo") == []
    assert await _files(store, "fine") == [FINE]  # the rest of the lock is mirrored
    [failure] = report.failed
    assert failure.startswith("'demo==1.0' is kept out: demo==1.0: GHSA-demo-demo-demo (high")
    assert "raise it to 1.1 or later" in failure
    # the database is kept in the container for the server and 'blobpi audit'
    stored = await store.get(osv_archive_path())
    assert stored is not None and stored.data == osv.read_bytes()
    source = await store.get(osv_source_path())
    assert source is not None and json.loads(source.data)["records"] == 1

    waived = lock + "# blobpi: waive GHSA-demo-demo-demo until 2026-03-01: reviewed, not used\n"
    report = await _sync(store, world, waived, osv)
    assert report.ok, report.failed
    assert await _files(store, "demo") == [DEMO_OLD]

    later = NOW + dt.timedelta(days=1)  # the waiver's last day is over: it blocks again
    report = await _sync(store, world, waived, osv, now=later)
    assert not report.ok and "kept out" in report.failed[0]
    assert await _files(store, "demo") == []


@pytest.mark.anyio
async def test_sync_gate__malware_taken_down_at_once(store: BlobStore, world: World) -> None:
    lock = world.lock(EVIL, FINE)
    assert (await _sync(store, world, lock, world.osv(PYSEC))).ok
    page = await read_project(store, "evil")  # type: ignore[arg-type]
    assert page is not None and page.files[0].blob_path is not None
    blob = page.files[0].blob_path
    # upstream deletes it and the advisory arrives: both leave in the same run
    world.upstream.remove(EVIL)
    report = await _sync(store, world, lock, world.osv(PYSEC, MAL))
    assert report.takedowns == [
        f"'{EVIL}' taken down (deleted upstream): evil==1.0: MAL-2026-42 (severity unknown, "
        "no fixed version) MALWARE: Malicious code in evil (PyPI)"
    ]
    assert await read_project(store, "evil") is None  # type: ignore[arg-type]
    with pytest.raises(BlobNotFound):
        await store.head(blob)  # no grace period for malware
    assert blob in report.deleted and not report.ok
    assert "'evil==1.0' is kept out" in report.failed[0]
    assert await _files(store, "fine") == [FINE]


def test_sync_cli__takedown_is_loud(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "allowlist.txt"
    lock.write_text(world.lock(EVIL))
    env = {
        "BLOBPI_STORAGE": str(tmp_path / "data"),
        "BLOBPI_UPSTREAM": world.upstream.index_url,
        "BLOBPI_ALLOWLIST": str(lock),
        "BLOBPI_OSV_URL": str(world.osv()),
    }
    assert main(["sync"], environ=env) == 0
    env["BLOBPI_OSV_URL"] = str(world.osv(MAL))
    assert main(["sync"], environ=env) == 1
    err = capsys.readouterr().err
    assert f"blobpi: TAKEDOWN: '{EVIL}' taken down: evil==1.0: MAL-2026-42" in err
    assert "blobpi: error: 'evil==1.0' is kept out" in err


@pytest.mark.anyio
async def test_sync_osv_over_http__conditional_and_a_failed_fetch_keeps_the_gate(
    store: BlobStore, world: World
) -> None:
    from tests.support.osv import archive_bytes

    world.upstream.extra["/osv/all.zip"] = archive_bytes([GHSA])
    url = f"http://127.0.0.1:{world.upstream.port}/osv/all.zip"
    lock = world.lock(DEMO_OLD, FINE)

    async def _run() -> Report:
        return await run_sync(
            store,
            world.config(),
            parse_allowlist(lock),
            now=NOW,
            curation=CurationConfig(osv_url=url),
        )

    first = await _run()
    assert "kept out" in first.failed[0]
    again = await _run()  # the archive answers 304: nothing about it is written again
    assert again.writes == 0 and world.upstream.count("/osv/all.zip") == 2
    world.upstream.fail("/osv/all.zip", "500", "500", "500")
    third = await _run()
    assert any("the OSV archive" in n and "HTTP 500" in n for n in third.notes)
    assert third.failed and "kept out" in third.failed[0]  # the stored copy still gates
