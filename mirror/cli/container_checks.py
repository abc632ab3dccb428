"""The container checks of ``blobpi check``: pages against blobs (``core/consistency``),
orphans, files interrupted writes left, the last sync of each shard (its history record),
and ``--deep`` re-hashing of every file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence

import anyio
from packaging.utils import NormalizedName

from blobpi.mirror.cli.checks import Result, items
from blobpi.mirror.core.consistency import Listed, compare
from blobpi.mirror.core.errors import BlobNotFound
from blobpi.mirror.core.history import SyncRun, latest, parse_runs
from blobpi.mirror.core.layout import history_path, metadata_path, page_path
from blobpi.mirror.core.model import ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.store.pages import read_project, read_projects
from blobpi.mirror.store.protocol import BlobStore, blob_sha256
from blobpi.mirror.store.records import read_record

__all__ = ["Snapshot", "consistency", "last_sync", "leftovers", "rehash", "sync_health"]

_LEFTOVER_AGE = 3600.0  # seconds: younger temporary files may be writes in flight
_STALE = dt.timedelta(days=2)  # a scheduled sync that has not succeeded for this long


@dataclasses.dataclass(slots=True)
class Snapshot:
    """What the consistency checks read once: the root page, every page, every blob."""

    root: ProjectList
    pages: list[ProjectPage]
    blobs: dict[str, Listed]
    pending: set[str]

    @classmethod
    async def read(cls, store: BlobStore) -> Snapshot:
        root = await read_projects(store)
        names: set[NormalizedName] = set(root.projects)
        blobs: dict[str, Listed] = {}
        async for info in store.list("simple/"):
            parts = info.path.split("/")
            if len(parts) == 3 and parts[2] == page_path(None, Format.JSON).split("/")[-1]:
                names.add(NormalizedName(parts[1]))
        pages = [p for n in sorted(names) if (p := await read_project(store, n)) is not None]
        async for info in store.list("packages/"):
            blobs[info.path] = Listed(info.size, info.metadata.get("sha256"))
        pending: set[str] = set()
        async for info in store.list("state/sync"):
            if info.path.endswith(".json"):
                record, _ = await read_record(store, info.path)
                pending |= set(record.get("pending", {}))
        return cls(root, pages, blobs, pending)


def consistency(snap: Snapshot) -> list[Result]:
    found = compare(snap.root, snap.pages, snap.blobs, snap.pending)
    results = []
    if found.problems:
        results.append(
            Result(
                "pages",
                "fail",
                f"{len(found.problems)} problems in {len(snap.pages)} pages",
                "rerun 'blobpi sync' (it re-fetches what a page lists and the container "
                "lacks); for uploads, 'blobpi delete' the file and upload it again",
                items(found.problems),
            )
        )
    else:
        results.append(
            Result("pages", "ok", f"{len(snap.pages)} pages, {found.files} files, all present")
        )
    pending = f"; {found.pending} pruned, deleted after the grace period" if found.pending else ""
    if found.orphans:
        results.append(
            Result(
                "orphans",
                "warn",
                f"{len(found.orphans)} blobs no page links{pending}",
                "harmless (nothing serves them); delete them to reclaim space",
                items(found.orphans),
            )
        )
    else:
        results.append(Result("orphans", "ok", f"every blob is linked{pending}"))
    return results


async def last_sync(store: BlobStore, now: dt.datetime) -> Result:
    """How each shard's last sync went, from the history the sync keeps in ``state/``."""
    try:
        blob = await store.get(history_path())
    except BlobNotFound:
        return Result("last sync", "skip", "no sync has run here (an index of private packages)")
    assert blob is not None
    return sync_health(parse_runs(json.loads(blob.data)), now)


def sync_health(runs: Sequence[SyncRun], now: dt.datetime) -> Result:
    """Fail when a shard's last run failed (the container does not match its lock), warn
    when a shard has not succeeded for ``_STALE`` (pure).

    >>> now = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    >>> sync_health([SyncRun("1/1", now, ok=False, failures=("six: 404",))], now).status
    'fail'
    """
    last, good = latest(runs), latest(runs, ok_only=True)
    failed = [
        f"{shard}: {', '.join(run.failures[:1]) or 'failed'}"
        for shard, run in sorted(last.items())
        if not run.ok
    ]
    if failed:
        return Result(
            "last sync",
            "fail",
            f"the last sync of {len(failed)} shard(s) failed: the container does not match "
            "its lock",
            "read the failures in state/report.json (blobpi sync prints them, one line per "
            "cause), fix the cause, then rerun blobpi sync",
            items(failed),
        )
    stale = [
        f"{shard}: last success {run.finished:%Y-%m-%d %H:%M} UTC"
        for shard, run in sorted(good.items())
        if now - run.finished > _STALE
    ]
    if stale:
        return Result(
            "last sync",
            "warn",
            f"{len(stale)} shard(s) have not synced for over {_STALE.days} days",
            "check that the scheduled sync job runs (its logs, its schedule)",
            items(stale),
        )
    return Result("last sync", "ok", f"the last sync of every shard ({len(last)}) succeeded")


async def leftovers(store: BlobStore) -> Result:
    found = [path async for path in store.leftovers(_LEFTOVER_AGE)]
    if found:
        return Result(
            "temporary",
            "warn",
            f"{len(found)} temporary files from interrupted writes",
            "delete them: no blob uses them",
            items(found),
        )
    return Result("temporary", "ok", "no temporary files left by interrupted writes")


async def rehash(store: BlobStore, snap: Snapshot, concurrency: int = 4) -> Result:
    """``--deep``: read every linked file and its ``.metadata`` back and hash them."""
    wanted: list[tuple[str, str, str]] = []  # (what, path, sha256)
    for page in snap.pages:
        for f in page.files:
            path = f.blob_path
            if path is None or path not in snap.blobs or f.sha256 is None:
                continue
            wanted.append((f"{page.name}: {f.filename}", path, f.sha256))
            meta = f.core_metadata
            if isinstance(meta, Mapping) and "sha256" in meta and metadata_path(path) in snap.blobs:
                wanted.append(
                    (f"{page.name}: {f.filename}.metadata", metadata_path(path), meta["sha256"])
                )
    differ: list[str] = []
    limit = anyio.CapacityLimiter(concurrency)

    async def _one(what: str, path: str, expected: str) -> None:
        async with limit:
            actual = await blob_sha256(store, path)
        if actual != expected:
            differ.append(f"{what}: sha256 {actual}, the page says {expected}")

    async with anyio.create_task_group() as group:
        for item in wanted:
            group.start_soon(_one, *item)
    if differ:
        return Result(
            "rehash",
            "fail",
            f"{len(differ)} of {len(wanted)} files differ from their pages",
            "the bytes changed after they were written: delete each file and mirror or "
            "upload it again; find out what wrote to the container",
            items(sorted(differ)),
        )
    return Result("rehash", "ok", f"{len(wanted)} files re-hashed, all match their pages")
