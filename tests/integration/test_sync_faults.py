"""The fault suite, upstream side: a controllable upstream (tests/support/upstream.py) breaks
one way per case while a sync adds a new release to an index that already serves one.

For every fault: a clear error, or a retry that succeeds; the pages served before are served
unchanged (byte for byte) when the run fails; every invariant holds (tests/support/
invariants.py: nothing partial or unverified is listed); and the next run converges (ok, then
a no-op). Both stores (local directory, Azurite).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.io.apply import run_sync
from blobpi.sync.io.report import Report
from tests.support.dists import build_wheel
from tests.support.invariants import check_invariants, snapshot_pages
from tests.support.syncconfig import sync_config
from tests.support.upstream import Fault, LocalUpstream

pytestmark = pytest.mark.anyio
ALLOW = "alpha\nbeta"
NEW = "beta-0.7-py3-none-any.whl"


@dataclasses.dataclass
class Rig:
    upstream: LocalUpstream
    tmp: Path

    async def sync(self, store: BlobStore, text: str = ALLOW, **changes: Any) -> Report:
        return await run_sync(store, sync_config(self.upstream, **changes), parse_allowlist(text))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with LocalUpstream.start() as upstream:
        for name, version in (("alpha", "1.0"), ("beta", "0.5")):
            upstream.add(build_wheel(tmp_path / "d", name, version))
        yield Rig(upstream, tmp_path)


async def _served_before(store: BlobStore, rig: Rig) -> dict[str, bytes]:
    """The index as served before the fault, and the new release the next run fetches."""
    first = await rig.sync(store)
    assert first.ok, first.failed
    rig.upstream.add(build_wheel(rig.tmp / "d", "beta", "0.7", payload_bytes=60_000))
    await check_invariants(store)
    return await snapshot_pages(store)


async def _converges(store: BlobStore, rig: Rig) -> None:
    rig.upstream.faults.clear()
    again = await rig.sync(store)
    assert again.ok, again.failed
    assert NEW in await check_invariants(store)
    steady = await rig.sync(store)
    assert steady.ok and steady.writes == 0


def _where(rig: Rig, target: str) -> str:
    if target == "page":
        return rig.upstream.page_path("beta")
    dist = rig.upstream.dists[NEW]
    return dist.url_path + (".metadata" if target == "metadata" else "")


def _unlisted_metadata(rig: Rig, target: str) -> None:
    """Only a .metadata whose sha256 the page does not list is fetched (a listed one is
    checked by that hash against the wheel's own): so faults on it need pages without."""
    rig.upstream.core_metadata_keys = target != "metadata"


# (fault, target): retried once, then the run succeeds.
TRANSIENT: list[tuple[Fault, str]] = [
    ("500", "page"),
    ("429", "page"),
    ("slow", "page"),
    ("500", "file"),
    ("429", "file"),
    ("truncate", "file"),
    ("length", "file"),
    ("corrupt", "file"),
    ("drip", "file"),
    ("500", "metadata"),
]
# (fault, target, what the one-line error says): every attempt fails, nothing changes.
PERSISTENT: list[tuple[Fault, str, str]] = [
    ("500", "page", "failed 3 times (HTTP 500)"),
    ("429", "file", "failed 3 times (HTTP 429)"),
    ("403", "page", "answered HTTP 403"),
    ("403", "file", "HTTP 403"),
    ("truncate", "file", "failed 3 times"),
    ("length", "file", "do not match the sha256"),
    ("corrupt", "file", "do not match the sha256"),
    ("drip", "file", "bytes/s"),
    ("malformed", "page", "is malformed"),
    ("huge", "page", "over 67,108,864 bytes (decoded)"),
    ("garbled", "page", "failed 3 times (Error -3 while decompressing data"),
    ("loop", "page", "more than 5 redirects"),
    ("loop", "file", "more than 5 redirects"),
    ("foreign", "page", "not on an allowed origin"),
    ("foreign", "file", "not on an allowed origin"),
    ("foreign", "metadata", "not on an allowed origin"),
]


@pytest.mark.parametrize(("fault", "target"), TRANSIENT)
async def test_sync_faults__transient_fault_is_retried_and_the_run_succeeds(
    store: BlobStore, rig: Rig, fault: Fault, target: str
) -> None:
    _unlisted_metadata(rig, target)
    await _served_before(store, rig)
    rig.upstream.slow_seconds = 1.5  # over the 1 s timeout
    rig.upstream.fail(where := _where(rig, target), fault)
    report = await rig.sync(store)
    assert report.ok, report.failed
    assert rig.upstream.faults[where] == []  # the fault was served, then retried
    assert NEW in await check_invariants(store)
    await _converges(store, rig)


@pytest.mark.parametrize(("fault", "target", "says"), PERSISTENT)
async def test_sync_faults__persistent_fault_is_one_clear_error_and_changes_nothing(
    store: BlobStore, rig: Rig, fault: Fault, target: str, says: str
) -> None:
    _unlisted_metadata(rig, target)
    before = await _served_before(store, rig)
    with LocalUpstream.start() as internal:  # a service the sync must never reach
        rig.upstream.foreign_url = f"http://127.0.0.1:{internal.port}/secret"
        rig.upstream.fail(_where(rig, target), *[fault] * 3)
        report = await rig.sync(store)
        assert internal.requests == []
    assert not report.ok
    assert len(report.failed) == 1 and says in report.failed[0], report.failed
    assert "\n" not in report.failed[0] and "Traceback" not in report.failed[0]
    assert await snapshot_pages(store) == before  # the previous index is served as it was
    assert NEW not in await check_invariants(store)
    await _converges(store, rig)
