"""``sync.io.apply.run_sync`` end to end: a real local upstream, both stores (local, Azurite)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import BlobNotFound, LeaseHeld, StorageUnavailable
from blobpi.mirror.core.layout import page_path, yanks_path
from blobpi.mirror.core.model import ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.settings import Shard, SyncConfig
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.store.lease import hold_lease
from blobpi.mirror.store.pages import read_project, read_projects
from blobpi.mirror.store.protocol import CHUNK_SIZE, BlobInfo, BlobStore, Data
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.io.apply import run_sync
from blobpi.sync.io.fetch import INLINE_BYTES
from blobpi.sync.io.report import CountingStore, Report
from tests.support.dists import build_sdist, build_wheel
from tests.support.invariants import check_invariants
from tests.support.syncconfig import sync_config
from tests.support.upstream import Dist, LocalUpstream

pytestmark = pytest.mark.anyio
PROVENANCE = b'{"version": 1, "attestation_bundles": []}'


@dataclasses.dataclass
class World:
    upstream: LocalUpstream
    dists: dict[str, Dist]
    tmp: Path

    def config(self, **changes: Any) -> SyncConfig:
        return sync_config(self.upstream, pythons=("3.10", "3.12"), **changes)

    def pin(self, *filenames: str) -> str:
        """Lock lines (name==version --hash ...) for these files."""
        return "\n".join(self.dists[filename].pin for filename in filenames)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = tmp_path / "dists"
    with LocalUpstream.start() as upstream:
        dists = {
            p.name: upstream.add(p)
            for p in (
                build_wheel(built, "alpha", "1.0"),
                build_sdist(built, "alpha", "1.0"),
                build_wheel(built, "alpha", "2.0", requires=["beta"]),
                build_wheel(built, "beta", "0.5"),
                build_wheel(built, "beta", "0.6rc1"),
            )
        }
        dists["gamma-1.0-py3-none-any.whl"] = upstream.add(
            build_wheel(built, "gamma", "1.0"), metadata=False, flat=True, provenance=PROVENANCE
        )
        yield World(upstream, dists, tmp_path)


async def _sync(store: BlobStore, world: World, text: str, **changes: object) -> Report:
    dry_run = bool(changes.pop("dry_run", False))
    shared = changes.pop("shared_names", frozenset())
    assert isinstance(shared, frozenset)
    config = world.config(**changes)
    return await run_sync(
        store, config, parse_allowlist(text), shared_names=shared, dry_run=dry_run
    )


async def _listing(store: BlobStore) -> dict[str, str]:
    return {info.path: info.etag async for info in store.list()}


async def _page(store: BlobStore, name: str) -> ProjectPage:
    page = await read_project(store, name)  # type: ignore[arg-type]
    assert page is not None
    return page


async def test_sync__hashed_and_ranged_lines_mirror_exactly_their_files(
    store: BlobStore, world: World
) -> None:
    text = world.pin("alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz") + "\nbeta\ngamma"
    report = await _sync(store, world, text)
    assert report.ok, report.failed
    alpha = await _page(store, "alpha")
    assert [f.filename for f in alpha.files] == ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"]
    assert alpha.origin == "mirror"
    beta = await _page(store, "beta")
    assert [f.filename for f in beta.files] == ["beta-0.5-py3-none-any.whl"]  # no pre-release
    for page in (alpha, beta, await _page(store, "gamma")):
        for file in page.files:
            assert file.blob_path is not None
            info = await store.head(file.blob_path)
            assert info.metadata["sha256"] == file.sha256
            assert info.metadata["origin"] == "mirror"
            if file.filename.endswith(".whl"):
                blob = await store.get(file.blob_path + ".metadata")
                assert blob is not None and isinstance(file.core_metadata, dict)
                assert hashlib.sha256(blob.data).hexdigest() == file.core_metadata["sha256"]
    # The upstream path shape is kept; a flat upstream URL becomes a content path.
    wheel = world.dists["alpha-1.0-py3-none-any.whl"]
    assert alpha.files[0].blob_path == wheel.url_path.lstrip("/")
    gamma_file = (await _page(store, "gamma")).files[0]
    assert gamma_file.blob_path is not None and gamma_file.blob_path.startswith("packages/")
    # PEP 740 provenance, mirrored beside the file and linked relative to the page
    assert gamma_file.provenance == gamma_file.url + ".provenance"
    provenance = await store.get(gamma_file.blob_path + ".provenance")
    assert provenance is not None and provenance.data == PROVENANCE
    assert (await read_projects(store)).projects == ("alpha", "beta", "gamma")


async def test_sync__noop_resync_makes_conditional_reads_and_zero_writes(
    store: BlobStore, world: World
) -> None:
    text = "alpha\nbeta"
    assert (await _sync(store, world, text)).ok
    before = await _listing(store)
    requests_before = len(world.upstream.requests)
    report = await _sync(store, world, text)
    assert report.ok and report.writes == 0 and report.unchanged == 2
    assert await _listing(store) == before
    assert sorted(world.upstream.requests[requests_before:]) == [
        ("GET", "/simple/alpha/"),
        ("GET", "/simple/beta/"),
    ]
    # Without ETags (the real upstream sends none) it still writes nothing.
    world.upstream.etags = False
    assert (await _sync(store, world, text)).ok  # records that there is no ETag any more
    before = await _listing(store)
    report = await _sync(store, world, text)
    assert report.ok and report.writes == 0 and report.requests == 2
    assert report.unchanged == 2  # nothing written, though no 304 said so
    assert await _listing(store) == before


async def test_sync__a_noop_run_mends_an_html_twin_a_killed_writer_left_behind(
    store: BlobStore, world: World
) -> None:
    """A writer killed between alpha's record and its twin: the next sync changes nothing in
    alpha, yet leaves its twin made from the record, and writes nothing else."""
    assert (await _sync(store, world, "alpha\nbeta")).ok
    twin = page_path(canonicalize_name("alpha"), Format.HTML)
    stored = await store.get(twin)
    assert stored is not None
    await store.put(twin, b"<a>older</a>", metadata={"source_etag": '"older"'})
    report = await _sync(store, world, "alpha\nbeta")
    assert report.ok and report.writes == 1
    mended = await store.get(twin)
    assert mended is not None and mended.data == stored.data


async def test_sync__report_tells_the_last_outcome_once_the_upstream_is_back(
    store: BlobStore, world: World
) -> None:
    world.upstream.etags = False  # so the failed run changes no state the next one rewrites
    assert (await _sync(store, world, "alpha\nbeta")).ok
    down = await _sync(store, world, "alpha\nbeta", upstream="http://127.0.0.1:9/simple/")
    assert not down.ok and len(down.failed) == down.unreachable == 2
    assert await _stored_report(store) == {"ok": False, "unreachable": 2}
    back = await _sync(store, world, "alpha\nbeta")
    assert back.ok and back.writes == 0 and back.unchanged == 2
    assert await _stored_report(store) == {"ok": True, "unreachable": 0}
    before = await _listing(store)
    assert (await _sync(store, world, "alpha\nbeta")).ok
    assert await _listing(store) == before  # steady state: not even the report is written


async def _stored_report(store: BlobStore) -> dict[str, object]:
    blob = await store.get("state/report.json")
    assert blob is not None
    stored = json.loads(blob.data)
    return {"ok": stored["ok"], "unreachable": stored["unreachable"]}


async def test_sync__wrong_hash_from_upstream_is_an_error_and_stores_nothing(
    store: BlobStore, world: World
) -> None:
    dist = world.dists["beta-0.5-py3-none-any.whl"]
    world.upstream.fail(dist.url_path, "corrupt", "corrupt", "corrupt")
    report = await _sync(store, world, "beta")
    assert not report.ok
    assert any("do not match the sha256" in f for f in report.failed)
    with pytest.raises(BlobNotFound):
        await store.head(dist.url_path.lstrip("/"))
    assert await read_project(store, "beta") is None  # type: ignore[arg-type]


async def test_sync__lock_hash_the_upstream_lacks_is_an_error(
    store: BlobStore, world: World
) -> None:
    report = await _sync(store, world, "beta==0.5 --hash=sha256:" + "0" * 64)
    assert not report.ok and "offers no file with sha256" in report.failed[0]


@pytest.mark.parametrize("fault", ["500", "truncate", "slow", "corrupt"])
async def test_sync__transient_faults_are_retried(
    store: BlobStore, world: World, fault: str
) -> None:
    world.upstream.slow_seconds = 1.5  # over the 1 s timeout
    dist = world.dists["beta-0.5-py3-none-any.whl"]
    world.upstream.fail(dist.url_path, fault)  # type: ignore[arg-type]
    world.upstream.fail("/simple/beta/", fault if fault in ("500", "slow") else "500")  # type: ignore[arg-type]
    report = await _sync(store, world, "beta")
    assert report.ok, report.failed
    assert [f.filename for f in (await _page(store, "beta")).files] == [dist.filename]


async def test_sync__persistent_500_and_malformed_page_fail_that_project_only(
    store: BlobStore, world: World
) -> None:
    world.upstream.fail("/simple/alpha/", "malformed")
    world.upstream.fail("/simple/gamma/", "500", "500", "500")
    report = await _sync(store, world, "alpha\nbeta\ngamma\nnosuch")
    assert not report.ok
    failed = " ".join(report.failed)
    assert "'alpha' is malformed" in failed and "failed 3 times" in failed
    assert "no project 'nosuch'" in failed
    assert (await read_projects(store)).projects == ("beta",)


async def test_sync__prune_removes_from_pages_at_once_and_deletes_after_grace(
    store: BlobStore, world: World
) -> None:
    assert (await _sync(store, world, "alpha\nbeta")).ok
    alpha_blobs = [f.blob_path for f in (await _page(store, "alpha")).files]
    report = await _sync(store, world, "alpha<2\n")
    assert report.ok and report.removed_projects == ["beta"]
    assert (await read_projects(store)).projects == ("alpha",)
    assert [f.filename for f in (await _page(store, "alpha")).files] == [
        "alpha-1.0-py3-none-any.whl",
        "alpha-1.0.tar.gz",
    ]
    assert len(report.pruned) == 2 and report.deleted == []
    for path in alpha_blobs:
        assert path is not None
        await store.head(path)  # still there: the grace period has not passed
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    report = await run_sync(store, world.config(), parse_allowlist("alpha<2"), now=later)
    assert len(report.deleted) == 2
    with pytest.raises(BlobNotFound):
        await store.head(str(alpha_blobs[-1]))


async def test_sync__files_back_within_the_grace_period_are_not_deleted(
    store: BlobStore, world: World
) -> None:
    assert (await _sync(store, world, "alpha\nbeta")).ok
    assert (await _sync(store, world, "alpha<2\n")).pruned  # alpha 2.0 and beta leave
    assert (await _sync(store, world, "alpha\nbeta")).ok  # a mistaken removal, undone
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    report = await run_sync(store, world.config(), parse_allowlist("alpha\nbeta"), now=later)
    assert report.ok and report.deleted == []
    for name in ("alpha", "beta"):
        for file in (await _page(store, name)).files:
            assert file.blob_path is not None
            await store.head(file.blob_path)  # every linked file is still there


async def test_sync__upstream_yank_and_deletion_are_reported_local_yank_survives(
    store: BlobStore, world: World
) -> None:
    assert (await _sync(store, world, "alpha")).ok
    await store.put(yanks_path("alpha"), json.dumps({"alpha-1.0.tar.gz": "local"}).encode())  # type: ignore[arg-type]
    world.upstream.yank("alpha-2.0-py3-none-any.whl", "broken")
    world.upstream.remove("alpha-1.0-py3-none-any.whl")
    report = await _sync(store, world, "alpha")
    assert report.ok
    notes = " ".join(report.notes)
    assert "yanked upstream" in notes and "deleted upstream" in notes
    page = await _page(store, "alpha")
    yanked = {f.filename: f.yanked for f in page.files}
    assert yanked == {
        "alpha-1.0-py3-none-any.whl": False,  # kept though deleted upstream
        "alpha-1.0.tar.gz": "local",
        "alpha-2.0-py3-none-any.whl": "broken",
    }


async def test_sync__private_project_is_never_merged(store: BlobStore, world: World) -> None:
    private = build_wheel(world.tmp / "private", "beta", "9.0")
    with private.open("rb") as f:
        await publish(store, private.name, f, max_bytes=1 << 20)
    report = await _sync(store, world, "alpha\nbeta")
    assert not report.ok and "private uploads" in report.private[0]
    page = await _page(store, "beta")
    assert page.origin == "private" and [f.filename for f in page.files] == [private.name]
    assert (await read_projects(store)).projects == ("alpha", "beta")


async def test_sync__second_concurrent_sync_exits_with_a_clear_message(
    store: BlobStore, world: World
) -> None:
    async with hold_lease(store):
        with pytest.raises(LeaseHeld, match="another sync holds the lease 'state/sync.lock'"):
            await _sync(store, world, "alpha")
        # Another shard has its own lease, so it may run meanwhile.
        assert (await _sync(store, world, "alpha", shard=Shard(1, 2))).ok


async def test_sync__waits_for_the_lease_when_asked(store: BlobStore, world: World) -> None:
    released = anyio.Event()

    async def _hold() -> None:
        async with hold_lease(store):
            await anyio.sleep(0.5)
        released.set()

    async with anyio.create_task_group() as group:
        group.start_soon(_hold)
        await anyio.sleep(0.1)
        report = await run_sync(store, world.config(), parse_allowlist("alpha"), wait=10)
        assert released.is_set() and report.ok


async def test_sync__shards_together_publish_every_project(store: BlobStore, world: World) -> None:
    text = "alpha\nbeta\ngamma"
    reports = [await _sync(store, world, text, shard=Shard(k, 2)) for k in (1, 2)]
    assert all(r.ok for r in reports) and sum(r.projects for r in reports) == 3
    assert (await read_projects(store)).projects == ("alpha", "beta", "gamma")
    assert {info.path async for info in store.list("state/sync")} >= {
        "state/sync-1-of-2.json",
        "state/sync-2-of-2.json",
    }


async def test_sync__dry_run_plans_and_writes_nothing(store: BlobStore, world: World) -> None:
    report = await _sync(store, world, "alpha\nbeta", dry_run=True)
    assert report.ok and report.plan["beta"]["fetch"] == ["beta-0.5-py3-none-any.whl"]
    assert "0 unchanged), 4 files to add (" in report.summary()
    assert await _listing(store) == {}
    assert (await _sync(store, world, "alpha\nbeta")).ok
    before = await _listing(store)
    report = await _sync(store, world, "alpha<2", dry_run=True)
    assert report.removed_projects == ["beta"]
    assert report.plan["alpha"]["drop"] == ["alpha-2.0-py3-none-any.whl"]
    assert await _listing(store) == before


async def test_sync__metadata_is_checked_by_the_hash_its_page_lists(
    store: BlobStore, world: World
) -> None:
    """A page that lists its .metadata's sha256 is checked by that hash (the upstream's copy,
    corrupt here, is never read); one it does not list is fetched and must be our bytes."""
    dist = world.dists["beta-0.5-py3-none-any.whl"]
    assert dist.metadata is not None
    world.upstream.fail(dist.url_path + ".metadata", "corrupt")
    report = await _sync(store, world, "beta")
    assert report.ok, report.failed
    assert world.upstream.count(dist.url_path + ".metadata") == 0
    wheel = (await _page(store, "beta")).files[0]
    assert wheel.core_metadata == {"sha256": hashlib.sha256(dist.metadata).hexdigest()}
    blob = await store.get(f"{wheel.blob_path}.metadata")
    assert blob is not None and blob.data == dist.metadata
    # Not listed: the corrupt copy is fetched, differs from the wheel's own, and is refused.
    world.upstream.core_metadata_keys = False
    unlisted = world.dists["alpha-2.0-py3-none-any.whl"]
    world.upstream.fail(unlisted.url_path + ".metadata", "corrupt")
    report = await _sync(store, world, "alpha")
    assert not report.ok
    assert any(".metadata of 'alpha-2.0-py3-none-any.whl'" in f for f in report.failed)
    # The next run, with a sound upstream, converges.
    report = await _sync(store, world, "alpha")
    wheels = [f for f in (await _page(store, "alpha")).files if f.filename.endswith(".whl")]
    assert report.ok and len(wheels) == 2 and all(f.core_metadata for f in wheels)


async def test_sync__html_only_upstream_without_etags_or_metadata_keys(
    store: BlobStore, world: World
) -> None:
    """An imperfect upstream: PEP 503 HTML only, no ETag, no serial, no core-metadata keys."""
    up = world.upstream
    up.html_only, up.etags, up.serials, up.core_metadata_keys = True, False, False, False
    up.yank("alpha-2.0-py3-none-any.whl", "broken build")
    report = await _sync(store, world, "alpha\ngamma")
    assert report.ok, report.failed
    alpha = await _page(store, "alpha")
    files = {f.filename: f for f in alpha.files}
    assert files["alpha-2.0-py3-none-any.whl"].yanked == "broken build"
    assert files["alpha-1.0.tar.gz"].sha256 == world.dists["alpha-1.0.tar.gz"].sha256
    # .metadata fetched though not advertised (alpha), or extracted from the wheel (gamma)
    for page in (alpha, await _page(store, "gamma")):
        wheel = next(f for f in page.files if f.filename.endswith(".whl"))
        assert isinstance(wheel.core_metadata, dict)
        blob = await store.get(f"{wheel.blob_path}.metadata")
        assert blob is not None and b"Name: " in blob.data
    assert up.count("/files/gamma-1.0-py3-none-any.whl.metadata") == 1  # tried, absent


async def test_sync__shared_name_keeps_private_files_beside_upstream(
    store: BlobStore, world: World
) -> None:
    private = build_wheel(world.tmp / "private", "beta", "0.5+corp1")
    with private.open("rb") as f:
        await publish(store, private.name, f, max_bytes=1 << 20)
    report = await _sync(store, world, "beta", shared_names=frozenset({"beta"}))
    assert report.ok, report.private + report.failed
    page = await _page(store, "beta")
    assert page.origin == "private"  # still guarded if the name leaves BLOBPI_SHARED_NAMES
    assert [f.filename for f in page.files] == [
        "beta-0.5+corp1-py3-none-any.whl",
        "beta-0.5-py3-none-any.whl",
    ]
    again = await _sync(store, world, "beta", shared_names=frozenset({"beta"}))
    assert again.ok and await _page(store, "beta") == page  # converged: nothing pruned
    refused = await _sync(store, world, "beta")
    assert "BLOBPI_SHARED_NAMES" in refused.private[0]


def test_sync__unreachable_upstream_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "blobpi.toml").write_text("[sync]\nretries = 0\n")
    (tmp_path / "allowlist.txt").write_text("alpha\nbeta\ngamma\n")
    args = ["sync", "--storage", str(tmp_path / "data"), "--report", str(tmp_path / "r.json")]
    args += ["--allowlist", str(tmp_path / "allowlist.txt")]
    args += ["--config", str(tmp_path / "blobpi.toml"), "--upstream", "http://127.0.0.1:9/simple/"]
    assert main(args, {}) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors == [
        "blobpi: error: cannot reach the upstream http://127.0.0.1:9/simple/ (3 projects not "
        "synced): check --upstream / BLOBPI_UPSTREAM and the network, then rerun once it is "
        "reachable"
    ]
    assert len(json.loads((tmp_path / "r.json").read_text())["failed"]) == 3  # each one kept


class _RootWriteFails(CountingStore):
    """Fails every write of the root page once armed: a kill just before the root changes."""

    armed = False

    async def put(self, path: str, data: Data, **options: Any) -> BlobInfo:
        if self.armed and path == page_path(None, Format.JSON):
            raise StorageUnavailable("injected: the root page cannot be written")
        return await super().put(path, data, **options)


async def test_sync__a_removed_project_leaves_the_root_before_its_pages_go(
    store: BlobStore, world: World
) -> None:
    """A run stopped between a removal's two writes never leaves the root listing a project
    whose pages are gone (a 404 for every client that follows the root)."""
    assert (await _sync(store, world, "alpha\nbeta")).ok
    failing = _RootWriteFails(store)
    failing.armed = True
    with contextlib.suppress(StorageUnavailable):
        report = await _sync(failing, world, "alpha<2\n")  # type: ignore[arg-type]
        assert not report.ok
    await check_invariants(store, settled=False)
    assert (await _page(store, "beta")).files  # nothing was removed yet
    report = await _sync(store, world, "alpha<2\n")
    assert report.ok and report.removed_projects == ["beta"]
    assert (await read_projects(store)).projects == ("alpha",)
    await check_invariants(store)


async def test_sync__metadata_comes_from_the_stored_wheel_whatever_its_size(
    store: BlobStore, world: World
) -> None:
    """A wheel of one chunk has its METADATA read from the bytes the store verified (on the
    event loop up to ``INLINE_BYTES``, in a worker thread above), a bigger one by ranged
    reads of the stored blob: all the wheel's own bytes. A stored .metadata that differs is
    refused even when the page vouches for ours (it is written at once, and the one found
    in its place is compared)."""
    big = world.upstream.add(
        build_wheel(world.tmp / "big", "delta", "1.0", payload_bytes=CHUNK_SIZE + 100_000)
    )
    mid = world.upstream.add(
        build_wheel(world.tmp / "mid", "epsilon", "1.0", payload_bytes=INLINE_BYTES + 50_000)
    )
    assert big.size > CHUNK_SIZE and big.metadata is not None
    assert INLINE_BYTES < mid.size < CHUNK_SIZE and mid.metadata is not None
    report = await _sync(store, world, "beta\ndelta\nepsilon")
    assert report.ok, report.failed
    small_dist = world.dists["beta-0.5-py3-none-any.whl"]
    assert small_dist.size <= INLINE_BYTES
    for name, dist in (("beta", small_dist), ("delta", big), ("epsilon", mid)):
        wheel = (await _page(store, name)).files[0]
        blob = await store.get(f"{wheel.blob_path}.metadata")
        assert blob is not None and blob.data == dist.metadata
        assert wheel.core_metadata == {"sha256": hashlib.sha256(blob.data).hexdigest()}
    # The wheel and its page gone, another .metadata in its place: the next run refuses it.
    wheel = (await _page(store, "beta")).files[0]
    assert wheel.blob_path is not None
    for fmt in Format:
        with contextlib.suppress(BlobNotFound):  # the formats the store keeps a page in
            await store.delete(page_path(canonicalize_name("beta"), fmt))
    await store.delete(wheel.blob_path)
    await store.put(f"{wheel.blob_path}.metadata", b"Metadata-Version: 2.1\nName: other\n")
    report = await _sync(store, world, "beta\ndelta\nepsilon")
    assert not report.ok
    assert any("is stored but differs from the METADATA" in f for f in report.failed)
