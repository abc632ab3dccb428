"""A hostile upstream and hostile input against the sync (issue 10, defects 2, 3, 4, 9, 10, 17):
foreign hosts in file, provenance and redirect URLs (SSRF), a ``.metadata`` that lies about
its wheel, a page listing another project's file, two pages naming one path with different
bytes, credentials in the upstream URL, malformed file URLs, and locks that are empty, cut or
edited. Each leaves what is served as it was, with a one-line reason."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import ConfigError, OperationRefused
from blobpi.mirror.core.settings import LockConfig, SyncConfig
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.allowlist import parse_allowlist, read_allowlist
from blobpi.sync.core.lockfile import Pin, check_lock, input_digest, render_lock
from blobpi.sync.io.apply import run_sync
from blobpi.sync.io.report import Report
from tests.support.dists import build_wheel
from tests.support.invariants import check_invariants, snapshot_pages
from tests.support.syncconfig import sync_config
from tests.support.upstream import Dist, LocalUpstream

pytestmark = pytest.mark.anyio
SECRET = "s3cret-Pa55word"


@dataclasses.dataclass
class Hostile:
    upstream: LocalUpstream
    internal: LocalUpstream  # another host: an internal service, or a separate files host
    dists: dict[str, Dist]
    tmp: Path

    def config(self, **changes: Any) -> SyncConfig:
        return sync_config(self.upstream, timeout=2.0, retries=1, **changes)

    async def sync(self, store: BlobStore, text: str, **changes: Any) -> Report:
        return await run_sync(store, self.config(**changes), parse_allowlist(text))

    def on_internal(self, filename: str) -> str:
        return f"http://127.0.0.1:{self.internal.port}{self.dists[filename].url_path}"


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Hostile]:
    with LocalUpstream.start() as upstream, LocalUpstream.start() as internal:
        built = [
            build_wheel(tmp_path / "d", "alpha", "1.0"),
            build_wheel(tmp_path / "d", "beta", "1.0", requires=["gamma"]),
            build_wheel(tmp_path / "d", "gamma", "1.0"),
        ]
        dists = {p.name: upstream.add(p) for p in built}
        for path in built:  # the other host can serve the same files
            internal.add(path)
        yield Hostile(upstream, internal, dists, tmp_path)


BETA = "beta-1.0-py3-none-any.whl"


async def test_trust__file_on_another_host_is_never_fetched(
    store: BlobStore, hostile: Hostile
) -> None:
    hostile.dists[BETA].url = hostile.on_internal(BETA)
    report = await hostile.sync(store, "alpha\nbeta")
    assert hostile.internal.requests == []
    assert len(report.failed) == 1 and "not on an allowed origin" in report.failed[0]
    internal = f"http://127.0.0.1:{hostile.internal.port}"
    assert f"BLOBPI_UPSTREAM_ORIGINS={internal} " in report.failed[0]  # the fix, to paste
    assert report.foreign == {internal: 1}
    assert BETA not in await check_invariants(store)
    assert "alpha-1.0-py3-none-any.whl" in await check_invariants(store)  # the rest is synced


async def test_trust__provenance_on_another_host_is_never_fetched(
    store: BlobStore, hostile: Hostile
) -> None:
    hostile.dists[BETA].provenance_url = hostile.on_internal(BETA) + ".provenance"
    report = await hostile.sync(store, "beta")
    assert hostile.internal.requests == []
    assert "not on an allowed origin" in " ".join(report.failed)
    assert BETA not in await check_invariants(store)


async def test_trust__a_listed_files_origin_is_fetched_without_the_credentials(
    store: BlobStore, hostile: Hostile
) -> None:
    hostile.dists[BETA].url = hostile.on_internal(BETA)
    hostile.upstream.auth = ("bob", SECRET)
    user_url = hostile.upstream.index_url.replace("http://", f"http://bob:{SECRET}@")
    origins = (f"http://127.0.0.1:{hostile.internal.port}",)
    report = await hostile.sync(store, "beta", upstream=user_url, upstream_origins=origins)
    assert report.ok, report.failed
    assert BETA in await check_invariants(store)
    path = hostile.dists[BETA].url_path
    # (its .metadata is checked by the sha256 the page lists, so it is not fetched)
    assert [p for _, p in hostile.internal.requests] == [path]
    assert hostile.internal.credentials == [None]  # the secret is the upstream's only
    assert all(hostile.upstream.authorized)  # the upstream got its credentials every time


async def test_trust__metadata_that_differs_from_the_wheel_is_refused(
    store: BlobStore, hostile: Hostile
) -> None:
    dist = hostile.dists[BETA]
    assert dist.metadata is not None and b"Requires-Dist: gamma" in dist.metadata
    # The page's hash matches this .metadata, but the wheel's METADATA says otherwise.
    dist.metadata = dist.metadata.replace(b"Requires-Dist: gamma", b"Requires-Dist: evil")
    report = await hostile.sync(store, "beta")
    assert len(report.failed) == 1 and "differs from the METADATA inside" in report.failed[0]
    assert await read_project(store, "beta") is None  # type: ignore[arg-type]


async def test_trust__a_page_lists_only_its_own_projects_files(
    store: BlobStore, hostile: Hostile
) -> None:
    hostile.upstream.planted["alpha"] = ["gamma-1.0-py3-none-any.whl"]
    report = await hostile.sync(store, "alpha")
    assert report.ok
    assert any("not a file of 'alpha'" in n for n in report.notes)
    assert await check_invariants(store) == {"alpha-1.0-py3-none-any.whl"}


async def test_trust__a_stored_blob_with_other_bytes_is_never_reused(
    store: BlobStore, hostile: Hostile
) -> None:
    alpha = "alpha-1.0-py3-none-any.whl"
    assert (await hostile.sync(store, "alpha")).ok
    assert (await hostile.sync(store, "alpha>=2")).ok  # off the page; its blob waits for grace
    # The upstream now serves other bytes under the same URL (and so the same blob path).
    other = build_wheel(hostile.tmp / "other", "alpha", "1.0", payload_bytes=5_000)
    dist = hostile.dists[alpha]
    dist.path, dist.sha256 = other, hashlib.sha256(other.read_bytes()).hexdigest()
    dist.size, dist.metadata = other.stat().st_size, None
    report = await hostile.sync(store, "alpha")
    assert len(report.failed) == 1 and "already stored with another sha256" in report.failed[0]
    assert await read_project(store, "alpha") is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/packages/x/beta-1.0-py3-none-any.whl",  # bad port
        "http://127.0.0.1/pack\x01ages/beta-1.0-py3-none-any.whl",  # a control character
        "http://[::1/beta-1.0-py3-none-any.whl",  # a broken IPv6 host
        "ftp://127.0.0.1/beta-1.0-py3-none-any.whl",  # not http(s)
    ],
)
async def test_trust__a_malformed_file_url_fails_that_file_only(
    store: BlobStore, hostile: Hostile, url: str
) -> None:
    hostile.dists[BETA].url = url
    report = await hostile.sync(store, "alpha\nbeta\ngamma")
    assert len(report.failed) == 1 and BETA in report.failed[0], report.failed
    assert "\n" not in report.failed[0]
    assert await check_invariants(store) == {
        "alpha-1.0-py3-none-any.whl",
        "gamma-1.0-py3-none-any.whl",
    }


def test_trust__no_credential_in_any_output_log_or_report(
    tmp_path: Path,
    hostile: Hostile,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    up = hostile.upstream
    up.auth = ("bob", SECRET)
    up.fail(up.page_path("alpha"), "500", "500")  # fails every attempt
    up.fail(hostile.dists["gamma-1.0-py3-none-any.whl"].url_path, "loop", "loop")
    hostile.dists[BETA].url = hostile.on_internal(BETA)  # refused: another host
    (tmp_path / "allowlist.txt").write_text("alpha\nbeta\ngamma\nnosuch\n")
    (tmp_path / "blobpi.toml").write_text("[sync]\nretries = 1\nbackoff = 0.01\n")
    url = up.index_url.replace("http://", f"http://bob:{SECRET}@")
    args = ["-v", "sync", "--storage", str(tmp_path / "data"), "--report", str(tmp_path / "r")]
    args += ["--allowlist", str(tmp_path / "allowlist.txt"), "--upstream", url]
    with caplog.at_level(logging.DEBUG):
        assert main([*args, "--config", str(tmp_path / "blobpi.toml")], {}) == 1
    out = capsys.readouterr()
    stored = (tmp_path / "data/state/report.json").read_text()
    report = json.loads((tmp_path / "r").read_text())
    assert len(report["failed"]) == 4, report["failed"]
    everything = out.out + out.err + caplog.text + stored + json.dumps(report)
    assert "bob" in caplog.text or up.requests  # the run did talk to the upstream
    assert SECRET not in everything and SECRET.lower() not in everything.lower()
    assert all(up.authorized)


# --- the lock: bad input never deletes what is served -----------------------------------


def _lock(hostile: Hostile, *filenames: str) -> str:
    pins = []
    for filename in filenames:
        name, version = filename.split("-")[:2]
        pins.append(Pin(name, version, frozenset({hostile.dists[filename].sha256})))
    return render_lock(pins, LockConfig(), input_digest("x", LockConfig()), "allowlist.in")


ALL = ("alpha-1.0-py3-none-any.whl", BETA, "gamma-1.0-py3-none-any.whl")


def test_trust__a_lock_cut_at_a_line_end_or_missing_a_pin_is_refused(
    tmp_path: Path, hostile: Hostile
) -> None:
    whole = _lock(hostile, *ALL)
    lock = tmp_path / "allowlist.txt"
    lock.write_text(whole)
    assert {e.name for e in read_allowlist(lock)} == {"alpha", "beta", "gamma"}
    lines = whole.splitlines(keepends=True)
    cuts = {
        "cut": "".join(lines[:-3]),
        "pin removed": whole.replace("".join(lines[-6:-3]), ""),
        "edited": whole.replace("gamma==1.0", "gamma==1.1"),
        "emptied body": "".join(line for line in lines if line.startswith("#")),
        "unsealed": whole.replace("# body: sha256:", "# body sha256:"),
    }
    for case, text in cuts.items():
        lock.write_text(text)
        with pytest.raises(ConfigError, match="not whole|cannot prove") as raised:
            read_allowlist(lock)
        assert "blobpi lock" in str(raised.value), case
        source = tmp_path / "allowlist.in"
        source.write_text("alpha\n")
        assert any(
            "not whole" in p or "cannot prove" in p for p in check_lock(source, lock, LockConfig())
        ), case


async def test_trust__an_empty_allow_list_is_an_error_and_removes_nothing(
    store: BlobStore, hostile: Hostile
) -> None:
    assert (await hostile.sync(store, "alpha\nbeta\ngamma")).ok
    before = await snapshot_pages(store)
    with pytest.raises(ConfigError, match="names no project"):
        await hostile.sync(store, "")
    assert await snapshot_pages(store) == before


async def test_trust__mass_removal_needs_the_flag(store: BlobStore, hostile: Hostile) -> None:
    assert (await hostile.sync(store, "alpha\nbeta\ngamma")).ok
    before = await snapshot_pages(store)
    with pytest.raises(OperationRefused, match="remove 2 of 3 projects.*--allow-mass-removal"):
        await hostile.sync(store, "alpha")
    assert await snapshot_pages(store) == before
    assert (await hostile.sync(store, "alpha\nbeta")).ok  # one at a time is fine
    config = hostile.config(max_removal_share=0.0)
    report = await run_sync(store, config, parse_allowlist("gamma"), allow_mass_removal=True)
    assert report.ok and sorted(report.removed_projects) == ["alpha", "beta"]
    assert await check_invariants(store) == {"gamma-1.0-py3-none-any.whl"}


def test_trust__cli_refuses_mass_removal_with_one_line_and_exit_1(
    tmp_path: Path, hostile: Hostile, capsys: pytest.CaptureFixture[str]
) -> None:
    allow = tmp_path / "allowlist.txt"
    args = ["sync", "--storage", str(tmp_path / "data"), "--allowlist", str(allow)]
    args += ["--upstream", hostile.upstream.index_url, "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("")
    allow.write_text("alpha\nbeta\ngamma\n")
    assert main(args, {}) == 0
    for text in ("", "# only a comment\n", "alpha\n"):
        allow.write_text(text)
        assert main(args, {}) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("blobpi: error: "), err
    allow.write_text("alpha\n")
    assert main([*args, "--allow-mass-removal"], {}) == 0
