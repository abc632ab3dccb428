"""The curation commands: ``blobpi audit`` (advisories) and ``blobpi status`` (PEP 792).

``blobpi audit [ALLOWLIST]`` checks every pin against the OSV advisories, offline.

The database is ``--osv FILE`` (an OSV export ``all.zip``), else ``[curation] osv-url`` when
it is a local path, else the copy the sync keeps in the container (``state/osv/all.zip``).
Each finding prints its advisory id, severity, fixed versions and the gate's verdict; the
exit status is 1 when any pin is blocked (malware, a severe advisory, an expired waiver).

``blobpi status PROJECT archived|deprecated|quarantined|active --reason WHY`` sets the
project's status on both page formats, kept across syncs (``mirror.ops.status``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from blobpi.mirror.cli.index import add_storage_argument
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.model import STATUSES, ProjectPage
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.status import set_status
from blobpi.mirror.store.advisories import read_database
from blobpi.mirror.store.protocol import open_store
from blobpi.sync.core.advisories import Database, parse_archive
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.core.gate import Gate, parse_waivers

__all__ = ["configure_parser", "load_database", "local_gate"]


def configure_parser(subparsers: Any) -> None:
    audit = subparsers.add_parser(
        "audit", help="check every pin against the OSV advisories (offline)"
    )
    audit.add_argument(
        "lock_file",  # not "allowlist": that destination is the sync's setting flag
        metavar="ALLOWLIST",
        nargs="?",
        type=Path,
        help="the lock (default: $BLOBPI_ALLOWLIST, blobpi.toml, else allowlist.txt)",
    )
    audit.add_argument("--osv", type=Path, help="an OSV export all.zip (default: the container's)")
    add_storage_argument(audit)
    audit.add_argument("--config", help="blobpi.toml (default: $BLOBPI_CONFIG, else ./blobpi.toml)")
    audit.set_defaults(handler=_audit)

    status = subparsers.add_parser(
        "status", help="mark a project archived, deprecated or quarantined (PEP 792)"
    )
    status.add_argument("project", help="the project's name")
    status.add_argument("status", choices=STATUSES, help="the new status; active clears it")
    status.add_argument("--reason", help="why, shown to installers (needed but for active)")
    add_storage_argument(status)
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    name = project_name(args.project)

    async def _run() -> ProjectPage | None:
        async with open_store(settings.storage, settings.storage_connection_string) as store:
            return await set_status(store, name, args.status, args.reason)

    page = anyio.run(_run)
    files = len(page.files) if page else 0
    shown = args.status if args.status != "active" else "active (the upstream's status returns"
    shown += " with the next sync)" if args.status == "active" else f": {args.reason.strip()}"
    print(f"{name} is {shown}; its pages list {files} file{'s' * (files != 1)}")
    return 0


def load_database(osv: Path | None, settings: Settings) -> tuple[Database, str]:
    """The database an offline command reads, and how to name it (see the module docstring)."""
    url = settings.curation.osv_url
    if osv is None and url and urlsplit(url).scheme in ("", "file"):
        osv = Path(url.removeprefix("file://"))
    if osv is not None:
        try:
            data = osv.read_bytes()
        except OSError as e:
            raise ConfigError(
                f"cannot read the OSV archive {str(osv)!r} ({e.strerror}): pass --osv all.zip"
            ) from None
        return parse_archive(data, str(osv)), str(osv)

    async def _stored() -> tuple[Database, str] | None:
        async with open_store(settings.storage, settings.storage_connection_string) as store:
            found = await read_database(store)
            return (found[0], f"the database in {store.description}") if found else None

    stored = anyio.run(_stored)
    if stored is None:
        raise ConfigError(
            f"no OSV database in {settings.storage!r}: pass --osv all.zip, or set [curation] "
            "osv-url and run 'blobpi sync' once to store it"
        )
    return stored


def local_gate(osv: Path | None, settings: Settings) -> Gate | None:
    """The gate for ``blobpi lock`` and ``lock --diff``, which run where the container is out
    of reach (a pull request job): only ``--osv FILE`` or a local ``osv-url``; else none."""
    url = settings.curation.osv_url
    if osv is None and not (url and urlsplit(url).scheme in ("", "file")):
        return None
    database, _ = load_database(osv, settings)
    return Gate(database, settings.curation.block_severity, (), dt.date.today())


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.lock_file or settings.sync.allowlist
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(
            f"cannot read the allow-list {str(path)!r} ({e.strerror}): pass the lock to audit"
        ) from None
    entries = parse_allowlist(text, str(path))
    waivers = parse_waivers(text, str(path))
    database, where = load_database(args.osv, settings)
    gate = Gate(database, settings.curation.block_severity, tuple(waivers), dt.date.today())
    pins = [(e.name, str(e.pinned)) for e in entries if e.pinned is not None]
    findings = gate.audit(pins)
    for finding in findings:
        print(finding.describe())
    unpinned = [e.text for e in entries if e.pinned is None]
    if unpinned:
        print(f"note: not audited (not == pins; audit the lock): {', '.join(unpinned)}")
    blocking = [f for f in findings if f.blocks]
    for finding in blocking:
        a = finding.advisory
        print(
            f"blobpi: error: {finding.name}=={finding.version} is blocked by {a.id}: "
            f"{finding.fix()}",
            file=sys.stderr,
        )
    waived = sum(f.verdict == "waived" for f in findings)
    print(
        f"audited {len(pins)} pins against {len(database)} advisories ({where}): "
        f"{len(findings)} findings, {len(blocking)} blocking, {waived} waived "
        f"(block-severity {settings.curation.block_severity})"
    )
    return 1 if blocking else 0
