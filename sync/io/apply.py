"""Run a sync: read the pages, plan each project, fetch, then write in the crash-safe order.

Write order (DESIGN.md): file blobs, then their ``.metadata``, then each project's pages
(``store.pages.update_project``, compare-and-swap, local yanks re-applied), then the root
page, then the state under ``state/``. A kill at any moment leaves pages that link only to
complete, verified blobs; the next run finds the blobs already there and converges. A run
with nothing changed upstream or in the allow-list sends read requests only and writes
nothing (not even its report, unless the stored one tells another outcome, e.g. an old failure).

With a curation gate (``[curation]``: an OSV database and the allow-list's waivers), each
project's plan leaves out what the advisories block, and takes down malware at once: off the
pages in this run, and its blobs deleted with no grace period.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import anyio
from packaging.utils import NormalizedName
from packaging.version import Version

from blobpi.mirror.core.errors import (
    BlobNotFound,
    ConfigError,
    ForeignOrigin,
    MirrorError,
    OperationRefused,
    ProjectNotFound,
    UpstreamUnreachable,
)
from blobpi.mirror.core.layout import report_path, sync_state_path
from blobpi.mirror.core.model import File, Origin, ProjectList, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.core.origins import Origins
from blobpi.mirror.core.settings import CurationConfig, SyncConfig
from blobpi.mirror.ops.status import apply_status, read_status, statused_projects
from blobpi.mirror.ops.yanks import apply_yanks, read_yanks
from blobpi.mirror.store.lease import hold_lease
from blobpi.mirror.store.pages import mend_twins, read_project, update_project, update_root
from blobpi.mirror.store.protocol import BlobStore, redact_url
from blobpi.mirror.store.records import read_record
from blobpi.sync.core.allowlist import Entry
from blobpi.sync.core.gate import Gate, Waiver, holds, plan_digest
from blobpi.sync.core.plan import (
    ProjectPlan,
    inputs_digest,
    page_without_files,
    plan_deletes,
    plan_project,
    removal_refused,
    removed_projects,
    shard_of,
)
from blobpi.sync.io.curation import open_gate
from blobpi.sync.io.fetch import fetch_file
from blobpi.sync.io.history import record_run
from blobpi.sync.io.network import client_for
from blobpi.sync.io.prune import delete_blobs, mirrored_pages, remove_project
from blobpi.sync.io.report import CountingStore, Progress, Report
from blobpi.sync.io.upstream import Upstream, UpstreamProject

__all__ = ["run_sync"]

log = logging.getLogger("blobpi.sync")


@dataclasses.dataclass(slots=True)
class _Run:
    store: BlobStore
    upstream: Upstream
    config: SyncConfig
    shared_names: frozenset[str]
    now: dt.datetime
    report: Report
    progress: Progress
    previous: dict[str, Any]
    allow_mass_removal: bool = False
    projects: dict[str, Any] = dataclasses.field(default_factory=dict)  # new per-project state
    pruned: list[File] = dataclasses.field(default_factory=list)  # taken off a page this run
    linked: list[File] = dataclasses.field(default_factory=list)  # on a page this run wrote
    pending: dict[str, str] = dataclasses.field(default_factory=dict)  # pruned blob -> when
    listed: set[NormalizedName] = dataclasses.field(
        default_factory=set
    )  # projects with a mirror page
    unlisted: set[NormalizedName] = dataclasses.field(default_factory=set)  # pages this run removed
    gate: Gate | None = None
    statused: frozenset[str] = frozenset()  # projects with a local status record
    taken_down: list[File] = dataclasses.field(default_factory=list)  # blobs to delete now
    # Files in flight: ``concurrency`` on the network, as many again being flushed to the
    # store (a slot is given back once a body is read), so memory stays bounded.
    fetching: anyio.CapacityLimiter = dataclasses.field(
        default_factory=lambda: anyio.CapacityLimiter(16)
    )


async def _read_json(store: BlobStore, path: str) -> dict[str, Any] | None:
    record, etag = await read_record(store, path)
    return record if etag is not None else None


def _plan_summary(plan: ProjectPlan) -> dict[str, Any]:
    sizes = [w.upstream.size for w in plan.fetch]
    return {
        "fetch": [w.upstream.filename for w in plan.fetch],
        "bytes": None if None in sizes else sum(s or 0 for s in sizes),  # PEP 700 size
        "keep": [f.filename for f in plan.keep],
        "drop": [f.filename for f in plan.drop],
        "errors": list(plan.errors),
    }


async def _fetch_all(run: _Run, plan: ProjectPlan) -> list[File]:
    fetched: list[File] = []

    async def _one(wanted: Any) -> None:
        try:
            async with run.fetching:
                file, downloaded = await fetch_file(
                    run.store, run.upstream, wanted, lambda n: run.progress.advance(nbytes=n)
                )
        except MirrorError as e:
            run.report.failed.append(f"{wanted.upstream.filename}: {e}")
            if isinstance(e, ForeignOrigin) and e.origin:
                run.report.foreign[e.origin] = run.report.foreign.get(e.origin, 0) + 1
            return
        fetched.append(file)
        run.progress.advance(files=1)
        if downloaded:
            run.report.added.append(wanted.path)
            run.report.bytes += downloaded

    async with anyio.create_task_group() as group:
        for wanted in plan.fetch:
            group.start_soon(_one, wanted)
    return fetched


async def _private_files(store: BlobStore, page: ProjectPage) -> tuple[File, ...]:
    """The files of a shared project's page that were uploaded, not mirrored (their blobs
    say ``origin=private``): the sync never plans, replaces or prunes them."""
    private = []
    for file in page.files:
        if file.blob_path is None:
            continue
        try:
            info = await store.head(file.blob_path)
        except BlobNotFound:
            continue
        if info.metadata.get("origin") == "private":
            private.append(file)
    return tuple(private)


async def _sync_project(run: _Run, name: NormalizedName, entries: Sequence[Entry]) -> None:
    report, config = run.report, run.config
    current = await read_project(run.store, name)
    previous = run.previous["projects"].get(name)
    shared = name in run.shared_names
    if current is not None and current.origin == "private" and not shared:
        report.private.append(
            f"{name!r} holds private uploads, so upstream files are never merged into it "
            "(dependency confusion): remove it from the allow-list, rename the private "
            "project, or list it in BLOBPI_SHARED_NAMES to keep both deliberately"
        )
        return
    private = await _private_files(run.store, current) if shared and current else ()
    mirrored = tuple(f for f in current.files if f not in private) if current else ()
    digest = inputs_digest(entries, config.filters)
    local_status = await read_status(run.store, name) if name in run.statused else {}
    # New advisories, waivers or a local status change the plan: no 304 shortcut then.
    digest = plan_digest(digest, run.gate, name, local_status)
    etag = previous.get("etag") if previous and previous["digest"] == digest and current else None
    try:
        found = await run.upstream.project(name, etag)
    except MirrorError as e:
        report.failed.append(str(e))
        report.unreachable += isinstance(e, UpstreamUnreachable)
        # A project the upstream removed whole while an advisory names malware in it (how
        # the public index takes malware down) is planned as empty: the takedown happens now.
        if not (isinstance(e, ProjectNotFound) and _takes_down(run, name, mirrored)):
            if previous:  # keep what is mirrored: an unreachable page is no reason to prune
                run.projects[name] = {**previous, "etag": None}
            if current is not None:
                run.listed.add(name)
            return
        found = UpstreamProject((), None, None)
    if found is None:
        log.debug("%s: the upstream page is unchanged (304): nothing to do", name)
        report.unchanged += 1
        run.projects[name] = previous
        run.listed.add(name)
        return
    if local_status.get("status") == "quarantined":
        report.notes.append(
            f"{name!r} is quarantined here ({local_status.get('reason')}): nothing of it is "
            "synced; 'blobpi status NAME active' lifts it"
        )
        run.projects[name] = {**(previous or {}), "etag": None, "digest": digest}
        if current is not None:
            run.listed.add(name)
        return
    versions = _versions(entries, (*found.files, *mirrored))
    held = holds(run.gate, name, versions, found.status, found.status_reason)
    report.notes.extend(held.notes)
    plan = plan_project(
        name, entries, found.files, mirrored, config.filters, run.now, held.blocked, held.takedown
    )
    log.debug(
        "%s: %d upstream files; fetch %d, keep %d, prune %d, skipped %s",
        name,
        len(found.files),
        len(plan.fetch),
        len(plan.keep),
        len(plan.drop),
        dict(plan.skipped_by) or 0,
    )
    report.skipped += plan.skipped
    for why, count in plan.skipped_by.items():
        report.skipped_by[why] = report.skipped_by.get(why, 0) + count
    report.takedowns.extend(plan.takedowns)
    report.notes.extend(plan.notes)
    report.failed.extend(plan.errors)
    if report.dry_run:
        report.plan[name] = summary = _plan_summary(plan)
        report.bytes += summary["bytes"] or 0
        report.unchanged += not (plan.fetch or plan.drop or plan.errors)
        return
    fetched = await _fetch_all(run, plan)
    files = [*plan.keep, *fetched]
    yanks = (await read_yanks(run.store, name))[0]
    seen = {f.filename for f in current.files} if current else set()
    private_names = {f.filename for f in private}

    def _change(page: ProjectPage | None) -> ProjectPage | None:
        if page is not None and page.origin == "private" and not shared:
            return page  # uploaded since we looked: never merged
        # A shared name keeps its private files as they are now, and uploads made since we
        # looked; a file deleted since then stays deleted.
        kept = [
            f
            for f in (page.files if page and shared else ())
            if f.filename in private_names or f.filename not in seen
        ]
        everything = [*files, *kept]
        if not everything and found.status is None and not local_status:
            return page_without_files(page)
        versions = [str(_version(f.filename)) for f in everything]
        # A page claims the upstream's serial only once it holds all of it: after a failed
        # fetch it keeps its own, so a failed run leaves the served page byte for byte as was.
        fresh = found.serial is not None and len(fetched) == len(plan.fetch)
        serial = found.serial if fresh else (page.last_serial if page else found.serial)
        origin: Origin = "private" if kept else "mirror"
        new = ProjectPage.build(name, everything, versions, origin=origin, last_serial=serial)
        upstream_status = (found.status, found.status_reason)
        return apply_status(apply_yanks(new, yanks), local_status, upstream_status)

    written = _change(current) != current
    # The common no-op needs no second read of the page.
    after = await update_project(run.store, name, _change) if written else current
    if after is not None and after.origin == "mirror":
        run.listed.add(name)
    elif after is None and current is not None:
        run.unlisted.add(name)  # this run deleted its pages
    run.pruned.extend(plan.drop)
    run.taken_down.extend(f for f in plan.drop if str(_version(f.filename)) in held.takedown)
    run.linked.extend(after.files if after is not None else ())
    report.pruned.extend(f.filename for f in plan.drop)
    clean = not plan.errors and len(fetched) == len(plan.fetch)
    report.unchanged += clean and not written  # in sync, whether or not the upstream sent 304
    run.projects[name] = {
        "etag": found.etag if clean else None,
        "serial": found.serial,
        "digest": digest,
    }


def _version(filename: str) -> Version:
    return parse_distribution_filename(filename).version


def _takes_down(run: _Run, name: NormalizedName, mirrored: Sequence[File]) -> bool:
    return bool(holds(run.gate, name, _versions((), mirrored)).takedown)


def _versions(entries: Sequence[Entry], files: Sequence[File]) -> set[str]:
    """The versions the gate judges: those of the files, and those the lines pin."""
    found = {str(e.pinned) for e in entries if e.pinned is not None}
    for file in files:
        try:
            found.add(str(_version(file.filename)))
        except MirrorError:
            continue  # not a distribution filename: nothing to judge
    return found


async def _body(run: _Run, entries: Sequence[Entry]) -> None:
    config, report = run.config, run.report
    by_name: dict[NormalizedName, list[Entry]] = defaultdict(list)
    for entry in entries:
        if shard_of(entry.name, config.shard.count) == config.shard.index:
            by_name[entry.name].append(entry)
    report.projects = len(by_name)
    run.statused = await statused_projects(run.store)
    removed = removed_projects(run.previous["projects"], by_name)
    refusal = removal_refused(len(removed), len(run.previous["projects"]), config)
    if refusal and not run.allow_mass_removal:
        raise OperationRefused(refusal)
    limit = anyio.CapacityLimiter(config.concurrency)
    stopped: list[MirrorError] = []

    async def _limited(name: NormalizedName, group: Sequence[Entry]) -> None:
        async with limit:
            try:
                await _sync_project(run, name, group)
            except MirrorError as e:
                # What a project cannot report itself (a page write on a full disk, a lost
                # lease) stops the run, and is raised as itself, not in an ExceptionGroup:
                # the CLI prints it as one line, whichever write it hit.
                stopped.append(e)
                tasks.cancel_scope.cancel()

    async with anyio.create_task_group() as tasks:
        for name, group in sorted(by_name.items()):
            tasks.start_soon(_limited, name, group)
    if stopped:
        raise stopped[0]
    if report.dry_run:
        report.removed_projects = list(removed)  # what a real run would take off the pages
        return
    # The root lets go of removed projects before their pages go, so a kill in between
    # leaves pages nobody lists (the next run removes them), never a listed project that 404s.
    doomed = [name for name in removed if await mirrored_pages(run.store, name)]
    if doomed:
        await update_root(run.store, lambda pl: ProjectList.of(set(pl.projects) - set(doomed)))
    for name in doomed:
        if (files := await remove_project(run.store, name)) is not None:
            report.removed_projects.append(name)
            report.pruned.extend(f.filename for f in files)
            run.pruned.extend(files)
    gone = set(report.removed_projects) | run.unlisted
    if run.listed or gone:  # a run that mirrored nothing creates no empty root either
        await update_root(
            run.store, lambda pl: ProjectList.of((set(pl.projects) - gone) | run.listed)
        )
    # A writer killed between a record and its HTML twin (a sync, an upload) left the twin
    # behind; a project this run did not change would keep it so until its next change.
    if mended := await mend_twins(run.store):
        log.info("brought %d stale HTML page(s) in step with their records", len(mended))
    grace = dt.timedelta(hours=config.grace_hours)
    pending = run.previous.get("pending", {})
    deletes = plan_deletes(pending, run.pruned, run.linked, run.now, grace)
    # A takedown's blobs go now, not after the grace period: nothing may serve malware.
    now = sorted({f.blob_path for f in run.taken_down if f.blob_path} - set(deletes.due))
    await delete_blobs(run.store, (*deletes.due, *now))
    report.deleted.extend((*deletes.due, *now))
    run.pending = {p: t for p, t in deletes.pending.items() if p not in now}


async def run_sync(
    store: BlobStore,
    config: SyncConfig,
    entries: Sequence[Entry],
    *,
    shared_names: frozenset[str] = frozenset(),
    dry_run: bool = False,
    allow_mass_removal: bool = False,
    wait: float = 0.0,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    curation: CurationConfig | None = None,
    waivers: Sequence[Waiver] = (),
) -> Report:
    """Make the container hold what ``entries`` allow; the report says what happened.
    With ``curation`` (an OSV URL, or a database already in the container) the gate holds
    back what the advisories block, less ``waivers``.

    Bad input never deletes what is served: an empty allow-list is an error, and a run that
    would take more than ``config.max_removal_share`` of the shard's projects off the index
    is refused before it writes anything, unless ``allow_mass_removal``."""
    if not entries:
        raise ConfigError(
            f"the allow-list {str(config.allowlist)!r} names no project, which would empty "
            "the index: check the file (an empty or cut lock); nothing was synced"
        )
    started = time.monotonic()
    report = Report(
        shard=f"{config.shard.index}/{config.shard.count}",
        dry_run=dry_run,
        upstream=redact_url(config.upstream),
    )
    state_path, last_report = sync_state_path(config.shard.suffix), report_path(config.shard.suffix)
    async with (
        client_for(config) as client,
        Upstream(
            config.upstream,
            timeout=config.timeout,
            retries=config.retries,
            concurrency=config.concurrency,
            backoff=config.backoff,
            origins=Origins.of(config.upstream, config.upstream_origins),
            client=client,
        ) as upstream,
    ):
        if not dry_run:
            await store.ensure()  # a new container (or directory) is created, not an error
        previous = await _read_json(store, state_path) or {"projects": {}, "pending": {}}
        counted = CountingStore(store)
        run = _Run(
            counted,
            upstream,
            config,
            shared_names,
            (now or dt.datetime.now(dt.UTC)),
            report,
            progress or Progress(),
            previous,
            allow_mass_removal,
            fetching=anyio.CapacityLimiter(2 * config.concurrency),
        )
        gating: dict[str, Any] = {"now": run.now, "report": report, "client": client}
        try:
            if dry_run:
                run.gate = await open_gate(store, curation, waivers, refresh=False, **gating)
                await _body(run, entries)
            else:
                async with hold_lease(store, config.shard.suffix, wait):
                    run.gate = await open_gate(counted, curation, waivers, refresh=True, **gating)
                    await _body(run, entries)
                    state = {"projects": run.projects, "pending": run.pending}
                    if state != previous:
                        await counted.put(state_path, json.dumps(state, sort_keys=True).encode())
                    _finish(report, upstream, started, counted.writes)
                    wrote = report.outdates(await _read_json(store, last_report))
                    if wrote:
                        await store.put(last_report, report.to_json())
                    finished = now or dt.datetime.now(dt.UTC)
                    listed = sorted(run.listed)
                    await record_run(store, report, config.upstream, listed, finished, wrote=wrote)
        except MirrorError as e:
            e.args = (upstream.origins.scrub(str(e)),)  # printed by the CLI: no secret in it
            raise
        finally:
            run.progress.close()
    _finish(report, upstream, started, counted.writes)
    return report


def _finish(report: Report, upstream: Upstream, started: float, writes: int) -> None:
    report.scrub(upstream.origins.scrub)
    report.writes = writes
    report.requests = upstream.requests
    report.seconds = round(time.monotonic() - started, 3)
    for listed in (report.added, report.pruned, report.failed, report.notes, report.takedowns):
        listed.sort()  # tasks finish in any order; reports should compare
