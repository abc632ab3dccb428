"""The sync plan: (allow-list entries, upstream page, mirrored page, filters) -> what to do.

Pure: no I/O, no clock (``now`` is passed in). Rules (DESIGN.md, "The sync worker"):

- A hashed line (a lock line) mirrors exactly the files whose sha256 it lists that the upstream
  offers and the tag filters accept; a listed hash the upstream does not offer is an error,
  never a reason to fetch something else.
- A ranged or bare line mirrors every matching version the filters accept: Python versions
  (wheel tags, PEP 425, and ``requires-python``, PEP 345), platform tags, sdists, pre-releases
  (PEP 440), latest-N, max size, minimum age on PEP 700 ``upload-time``.
- The curation gate (``sync.core.gate``) passes ``blocked`` (versions an advisory keeps out:
  never fetched; a lock line pinning one is an error naming the advisory) and ``takedown``
  (versions that must leave the pages now: malware, a quarantined project), which are dropped
  in this run and listed in ``ProjectPlan.takedowns``, whatever a line says.
- Files already mirrored stay as stored, with ``yanked`` (PEP 592) and ``requires-python``
  taken from upstream; a file the upstream deleted stays (and is reported); a file no line
  allows any more leaves the page (its blob is deleted after the grace period).

Every prune decision is made here; ``sync.io.apply`` and ``sync.io.prune`` only carry it out:

- project level (``removed_projects``, ``page_without_files``): a project the allow-list no
  longer names, or whose page the plan leaves empty, loses its pages at once, unless it holds
  private uploads; removing more than a share of them at once is refused (``removal_refused``);
- file level (``ProjectPlan.drop``, then ``plan_deletes``): a file taken off a page starts its
  grace period; its blobs are deleted when that is over.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, parse_wheel_filename
from packaging.version import Version

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.identity import Identities
from blobpi.mirror.core.layout import mirror_path
from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.core.settings import Filters, SyncConfig
from blobpi.mirror.core.tags import wheel_fits
from blobpi.sync.core.allowlist import Entry

__all__ = [
    "Deletes",
    "ProjectPlan",
    "Wanted",
    "inputs_digest",
    "page_without_files",
    "plan_deletes",
    "plan_project",
    "removal_refused",
    "removed_projects",
    "shard_of",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Wanted:
    upstream: File  # as the upstream states it (absolute URL)
    path: str  # the blob path it goes to


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectPlan:
    name: NormalizedName
    fetch: tuple[Wanted, ...] = ()  # files to download and store
    keep: tuple[File, ...] = ()  # stored files that stay, refreshed from upstream
    drop: tuple[File, ...] = ()  # stored files no line allows any more
    errors: tuple[str, ...] = ()  # the container cannot match the lock
    notes: tuple[str, ...] = ()  # upstream yanks and deletions
    skipped: int = 0  # upstream files the filters left out
    skipped_by: Mapping[str, int] = dataclasses.field(default_factory=dict)  # filter -> files
    takedowns: tuple[str, ...] = ()  # why files in ``drop`` left at once (malware, quarantine)


def shard_of(name: str, count: int) -> int:
    """A stable 1-based shard for a project: the same on every machine and Python run.

    >>> shard_of("six", 1)
    1
    """
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count + 1


def inputs_digest(entries: Sequence[Entry], filters: Filters) -> str:
    """What a project's plan depends on besides the pages: unchanged means same plan."""
    raw = json.dumps(
        [
            # an urgent override changes the plan; lines without one keep their old digest
            sorted((e.text, sorted(e.hashes), *([e.urgent] if e.urgent else [])) for e in entries),
            dataclasses.asdict(filters),
        ],
        sort_keys=True,
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def _versions(filters: Filters) -> list[tuple[int, int]]:
    return [(int(v.split(".")[0]), int(v.split(".")[1])) for v in filters.python_versions]


def _tag_filter(filename: str, filters: Filters) -> str | None:
    """Which filter a file's kind or wheel tags fail (``sdists``, ``platform-tags``,
    ``python-versions``), or None."""
    if not filename.endswith(".whl"):
        return None if filters.sdists else "sdists"
    _, _, _, tags = parse_wheel_filename(filename)
    # The filters name platforms by pattern (manylinux*_x86_64); the wheel's own platforms
    # that match are the concrete ones its tags are checked against.
    platforms = sorted(
        {
            t.platform
            for t in tags
            if any(fnmatch.fnmatchcase(t.platform, p) for p in filters.platform_tags)
        }
    )
    if not platforms:
        return "platform-tags"
    return (
        None
        if any(wheel_fits(tags, v, platforms) for v in _versions(filters))
        else ("python-versions")
    )


def _tags_ok(filename: str, filters: Filters) -> bool:
    return _tag_filter(filename, filters) is None


def _requires_python_ok(file: File, filters: Filters) -> bool:
    if not file.requires_python:
        return True
    try:
        spec = SpecifierSet(file.requires_python)
    except InvalidSpecifier:
        return True  # pip ignores what it cannot parse; so do we
    return any(
        spec.contains(f"{major}.{minor}.{patch}", prereleases=True)
        for major, minor in _versions(filters)
        for patch in (0, 99)
    )


def _prereleases(entry: Entry, filters: Filters) -> bool:
    """PEP 440: pre-releases only when allowed, or when the line itself names one."""
    return bool(filters.prereleases or entry.specifier.prereleases)


def filtered_by(file: File, filters: Filters, now: dt.datetime) -> str | None:
    """The filter (its ``blobpi.toml`` key in ``[sync]``) that leaves ``file`` out, or None.

    >>> filtered_by(File("a-1.tar.gz", "u", {}), Filters(sdists=False), dt.datetime.now(dt.UTC))
    'sdists'
    """
    if filters.max_file_size and (file.size or 0) > filters.max_file_size:
        return "max-file-size"
    if filters.min_age_hours and file.upload_time is not None:
        if now - file.upload_time < dt.timedelta(hours=filters.min_age_hours):
            return "min-age-hours"
    if not _requires_python_ok(file, filters):
        return "python-versions"  # its requires-python excludes every one of them
    return _tag_filter(file.filename, filters)


def _ranged_ok(
    file: File, version: Version, entry: Entry, filters: Filters, now: dt.datetime
) -> bool:
    if not entry.specifier.contains(version, prereleases=_prereleases(entry, filters)):
        return False
    if entry.urgent:  # a reviewed break-glass: the cool-down does not hold it back
        filters = dataclasses.replace(filters, min_age_hours=0.0)
    return filtered_by(file, filters, now) is None


def _select(
    entries: Sequence[Entry], upstream: Iterable[File], filters: Filters, now: dt.datetime
) -> tuple[dict[str, File], Counter[str]]:
    hashed: dict[str, File] = {}
    ranged: dict[str, tuple[Version, File]] = {}
    skipped: Counter[str] = Counter()  # filter -> files it left out
    for file in upstream:
        sha256 = file.sha256
        try:
            version = parse_distribution_filename(file.filename).version
        except InvalidName:
            continue  # eggs, .exe installers: nothing an index serves today
        if sha256 and any(sha256 in e.hashes for e in entries):
            if _tags_ok(file.filename, filters):
                hashed[file.filename] = file
            else:
                skipped[_tag_filter(file.filename, filters) or "platform-tags"] += 1
        elif sha256 and any(
            not e.hashes and _ranged_ok(file, version, e, filters, now) for e in entries
        ):
            ranged[file.filename] = (version, file)
        elif any(
            not e.hashes and e.specifier.contains(version, prereleases=_prereleases(e, filters))
            for e in entries
        ):
            # a line names it, a filter left it out (or the page gave no sha256 to check)
            skipped[filtered_by(file, filters, now) or "no sha256 upstream"] += 1
    if filters.latest:
        newest = sorted({v for v, _ in ranged.values()}, reverse=True)[: filters.latest]
        kept = {n: vf for n, vf in ranged.items() if vf[0] in newest}
        if len(ranged) > len(kept):
            skipped["latest"] += len(ranged) - len(kept)
        ranged = kept
    return {**{n: f for n, (_, f) in ranged.items()}, **hashed}, skipped


def _own_files(name: str, files: Sequence[File]) -> tuple[list[File], list[File]]:
    """A page may list only its own project's files (by the filename's normalized name):
    one naming another project's file would let one page plant files under another name."""
    own: list[File] = []
    foreign: list[File] = []
    for file in files:
        try:
            mine = parse_distribution_filename(file.filename).name == name
        except InvalidName:
            mine = True  # not a distribution at all: _select skips it
        (own if mine else foreign).append(file)
    return own, foreign


def _still_allowed(file: File, entries: Sequence[Entry]) -> bool:
    """A stored file the upstream no longer lists: kept while some line still names it."""
    try:
        version = parse_distribution_filename(file.filename).version
    except InvalidName:
        return False
    return any(
        (file.sha256 in e.hashes) if e.hashes else e.specifier.contains(version, prereleases=True)
        for e in entries
    )


def plan_project(
    name: NormalizedName,
    entries: Sequence[Entry],
    upstream: Sequence[File],
    current: Sequence[File],
    filters: Filters,
    now: dt.datetime,
    blocked: Mapping[str, str] | None = None,
    takedown: Mapping[str, str] | None = None,
) -> ProjectPlan:
    """What to fetch, keep and drop so the project's page matches its allow-list lines.
    ``blocked`` and ``takedown`` map a version (``str(Version)``) to why the gate holds it."""
    blocked, takedown = dict(blocked or {}), dict(takedown or {})
    held = {**blocked, **takedown}
    upstream, foreign = _own_files(name, upstream)
    selected, skipped = _select(entries, upstream, filters, now)
    errors: list[str] = []
    notes: list[str] = []
    takedowns: list[str] = []
    for filename in sorted(selected):
        version = str(_version_of(filename))
        if version in held:
            del selected[filename]
            if not any(e.hashes for e in entries):
                notes.append(f"{filename!r} is not mirrored: {held[version]}")
    by_name = {f.filename: f for f in upstream}
    notes.extend(
        f"the upstream page of {name!r} lists {f.filename!r}, which is not a file of "
        f"{name!r}: ignored"
        for f in foreign
    )
    offered = {f.sha256 for f in upstream} | {f.sha256 for f in current}
    for entry in entries:
        if entry.pinned is not None and str(entry.pinned) in held:
            errors.append(f"{entry.text!r} is kept out: {held[str(entry.pinned)]}")
            continue
        for missing in sorted(entry.hashes - offered):
            errors.append(
                f"{entry.text!r}: the upstream offers no file with sha256 {missing}: relock "
                "('blobpi lock'), or check the upstream"
            )
    chosen = {f.sha256 for f in selected.values()} | {f.sha256 for f in current}
    for entry in entries:
        if entry.pinned is not None and str(entry.pinned) in held:
            continue
        if entry.hashes and entry.hashes <= offered and not entry.hashes & chosen:
            errors.append(
                f"{entry.text!r}: none of its files passes the [sync] filters (Python versions, "
                "platform tags, sdists), so it could not be installed: widen them or relock"
            )
    if not selected and not current and not any(e.hashes for e in entries):
        notes.append(f"{name!r}: no upstream file matches {entries[0].text!r} and the filters")
    keep, drop = [], []
    for stored in current:
        fresh = by_name.get(stored.filename)
        reason = takedown.get(str(_version_of(stored.filename)))
        if reason is not None:
            drop.append(stored)
            gone = " (deleted upstream)" if fresh is None else ""
            takedowns.append(f"{stored.filename!r} taken down{gone}: {reason}")
            continue
        if fresh is None:
            if _still_allowed(stored, entries):
                keep.append(stored)
                notes.append(f"{stored.filename!r} was deleted upstream; the mirror keeps it")
            else:
                drop.append(stored)
            continue
        if fresh.filename not in selected:
            drop.append(stored)
            continue
        if fresh.sha256 != stored.sha256:
            errors.append(
                f"{stored.filename!r}: the upstream now serves different content "
                f"(sha256 {fresh.sha256}, mirrored {stored.sha256}); the mirror keeps its copy"
            )
        elif fresh.yanked and not stored.yanked:
            notes.append(f"{stored.filename!r} was yanked upstream: {fresh.yanked!r}")
        keep.append(
            dataclasses.replace(stored, yanked=fresh.yanked, requires_python=fresh.requires_python)
        )
    stored_names = {f.filename for f in current}
    fetch = []
    taken = Identities(f.filename for f in keep)  # on the page: one file each (identity.py)
    for filename, file in sorted(selected.items()):
        if filename in stored_names:
            continue
        twins = taken.clashing(filename)
        if twins:
            # Two files of one distribution would let filename order pick what pip installs.
            notes.append(
                f"{filename!r} is the same distribution as {twins[0]!r} (name, version, tags): "
                "not mirrored beside it"
            )
            continue
        taken.add(filename)
        try:
            fetch.append(Wanted(file, mirror_path(file.url, filename, file.sha256 or "")))
        except InvalidName as e:
            errors.append(f"{filename!r}: {e}")
    return ProjectPlan(
        name=name,
        fetch=tuple(fetch),
        keep=tuple(keep),
        drop=tuple(drop),
        errors=tuple(errors),
        notes=tuple(notes),
        skipped=sum(skipped.values()),
        skipped_by=dict(skipped),
        takedowns=tuple(takedowns),
    )


def _version_of(filename: str) -> Version | str:
    try:
        return parse_distribution_filename(filename).version
    except InvalidName:
        return filename


def removed_projects(synced: Iterable[str], named: Iterable[str]) -> tuple[NormalizedName, ...]:
    """Project level: the projects a shard synced before that its allow-list no longer names.

    >>> removed_projects(["a", "b"], ["b", "c"])
    ('a',)
    """
    return tuple(NormalizedName(n) for n in sorted(set(synced) - set(named)))


def removal_refused(removed: int, synced: int, config: SyncConfig) -> str | None:
    """Why taking ``removed`` of the ``synced`` projects off the index needs
    ``--allow-mass-removal`` (a cut or emptied allow-list looks just like a wish to remove
    them), or None. One project may always go.

    >>> removal_refused(2, 4, SyncConfig(max_removal_share=0.25))[:38]
    'this run would remove 2 of 4 projects '
    >>> removal_refused(1, 1, SyncConfig()) is None
    True
    """
    if removed <= max(1, config.max_removal_share * synced):
        return None
    return (
        f"this run would remove {removed} of {synced} projects from the index, more than "
        f"{config.max_removal_share:g} of them ([sync] max-removal-share / "
        f"BLOBPI_MAX_REMOVAL_SHARE): check the allow-list "
        f"{str(config.allowlist)!r} (cut short?); if you mean it, rerun with "
        "--allow-mass-removal; nothing was synced"
    )


def page_without_files(page: ProjectPage | None) -> ProjectPage | None:
    """Project level: a page the sync leaves without files. A mirrored project's pages go;
    a private one's stay, as it may have become since it was read (the sync never removes
    what it did not write).

    >>> page_without_files(ProjectPage(name="a", origin="mirror")) is None
    True
    """
    return None if page is not None and page.origin == "mirror" else page


@dataclasses.dataclass(frozen=True, slots=True)
class Deletes:
    due: tuple[str, ...]  # file blobs whose grace period is over: delete with their sidecars
    pending: dict[str, str]  # file blob -> ISO time it was pruned, still in its grace period


def plan_deletes(
    pending: Mapping[str, str],
    pruned: Iterable[File],
    linked: Iterable[File],
    now: dt.datetime,
    grace: dt.timedelta,
) -> Deletes:
    """File level: the files this run took off a page start their grace period (a blob
    pruned before keeps its first time); a file a page links again (``linked``: back in the
    allow-list within the grace period) is no longer pending; the blobs whose grace period
    is over are due.

    >>> t = dt.datetime(2024, 1, 8, tzinfo=dt.UTC)
    >>> plan_deletes({"a": "2024-01-01T00:00:00+00:00"}, [], [], t, dt.timedelta(days=7))
    Deletes(due=('a',), pending={})
    """
    waiting = dict(pending)
    for file in pruned:
        if file.blob_path:
            waiting.setdefault(file.blob_path, now.isoformat())
    for file in linked:
        waiting.pop(file.blob_path or "", None)
    due = tuple(
        sorted(p for p, t in waiting.items() if now - dt.datetime.fromisoformat(t) >= grace)
    )
    return Deletes(due, {p: t for p, t in waiting.items() if p not in due})
