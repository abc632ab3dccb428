"""``blobpi sync`` and ``blobpi lock``: the sync worker's subcommands.

Every setting also has a ``BLOBPI_*`` variable (see ``blobpi.mirror.core.sources``), so the
container job needs no flags: ``blobpi sync`` alone reads ``BLOBPI_STORAGE``, ``BLOBPI_ALLOWLIST``,
``BLOBPI_UPSTREAM``, ``BLOBPI_CONFIG`` and ``BLOBPI_SHARD``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sized
from pathlib import Path
from typing import Any

from blobpi.mirror.cli.index import add_storage_argument
from blobpi.mirror.cli.interrupt import run_until_signalled
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.origins import allow_hint, refused_on
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.settings import with_upstream
from blobpi.mirror.store.protocol import open_store, redact_url
from blobpi.sync.core.allowlist import Entry, read_allowlist
from blobpi.sync.core.gate import parse_waivers
from blobpi.sync.core.pylock import entries_of, is_pylock, parse_pylock
from blobpi.sync.io.report import Report

__all__ = ["configure_parser"]


def _config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", help="blobpi.toml (default: $BLOBPI_CONFIG, else ./blobpi.toml)"
    )
    parser.add_argument(
        "--upstream",
        help="the upstream simple index URL (default: $BLOBPI_UPSTREAM, blobpi.toml, else "
        "the index pip is configured with)",
    )


def configure_parser(subparsers: Any) -> None:
    sync = subparsers.add_parser("sync", help="mirror the allow-list from the upstream index")
    sync.add_argument(
        "--allowlist", help="allowlist.txt or a pylock.toml (default: $BLOBPI_ALLOWLIST)"
    )
    add_storage_argument(sync)
    _config_arguments(sync)
    sync.add_argument("--shard", help="K/N: sync the K-th of N shards (default: $BLOBPI_SHARD)")
    sync.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    sync.add_argument(
        "--allow-mass-removal",
        action="store_true",
        help="let this run remove more than [sync] max-removal-share of the projects",
    )
    sync.add_argument("--report", type=Path, help="also write the JSON report to this file")
    sync.add_argument(
        "--json", action="store_true", help="print the JSON report instead of the summary"
    )
    sync.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for another sync's lease"
    )
    sync.set_defaults(handler=_sync)

    lock = subparsers.add_parser(
        "lock",
        help="resolve allowlist.in to a hashed lock; 'lock rewrite LOCK' points one at the mirror",
        usage="%(prog)s [SOURCE] [options] | %(prog)s rewrite LOCK --index-url URL [-o OUT]",
    )
    lock.add_argument("source", nargs="?", default="allowlist.in", help="(default: %(default)s)")
    lock.add_argument("lock_file", nargs="?", metavar="LOCK", help="for rewrite: the lock")
    lock.add_argument(
        "-o", "--output", type=Path, help="the lock (default: SOURCE with .txt, or pylock.toml)"
    )
    lock.add_argument(
        "--format",
        choices=("requirements", "pylock"),
        default="requirements",
        help="requirements (pip-tools, hashed) or pylock (PEP 751, the mirror's URLs)",
    )
    lock.add_argument(
        "--index-url", help="the mirror's index (https://HOST/simple/): pylock and rewrite"
    )
    _config_arguments(lock)
    lock.add_argument(
        "--check", action="store_true", help="exit 1 when the lock is stale (no network)"
    )
    lock.add_argument(
        "--diff", nargs=2, type=Path, metavar=("OLD", "NEW"), help="print what a lock change does"
    )
    lock.add_argument("--json", action="store_true", help="print the outcome as JSON")
    lock.add_argument(
        "--osv",
        type=Path,
        help="an OSV export all.zip: avoid blocked releases; --diff lists advisories "
        "(default: [curation] osv-url when it is a local file)",
    )
    lock.set_defaults(handler=_lock)


def _quiet_http() -> None:
    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # httpx logs each request at INFO
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from blobpi.sync.io.apply import run_sync

    _quiet_http()
    settings = with_upstream(settings)
    config = settings.sync
    entries = _entries(config.allowlist)
    waivers = parse_waivers(config.allowlist.read_text(), str(config.allowlist))

    async def _run() -> Report:
        async with open_store(settings.storage, settings.storage_connection_string) as store:
            return await run_sync(
                store,
                config,
                entries,
                shared_names=settings.shared_names,
                dry_run=args.dry_run,
                allow_mass_removal=args.allow_mass_removal,
                wait=args.wait,
                curation=settings.curation,
                waivers=waivers,
            )

    report = run_until_signalled(_run)
    if args.report:
        args.report.write_bytes(report.to_json())
    if args.dry_run and not args.json:
        for name, plan in sorted(report.plan.items()):
            for filename in plan["fetch"]:
                print(f"+ {name}: {filename}")
            for filename in plan["drop"]:
                print(f"- {name}: {filename}")
        for name in report.removed_projects:
            print(f"- {name} (no longer in the allow-list: its pages go, files after the grace)")
    errors = report.private + report.failed
    if report.projects and report.unreachable == report.projects:
        # One cause, not one line per project (each is still in the report).
        count = f"{report.projects} project{'s' * (report.projects != 1)} not synced"
        errors = report.private + [
            f"cannot reach the upstream {redact_url(config.upstream)} ({count}): check "
            "--upstream / BLOBPI_UPSTREAM and the network, then rerun once it is reachable"
        ]
    errors = _one_line_per_foreign_origin(errors, report.foreign)
    for message in dict.fromkeys(errors):  # one line per cause: a TLS failure hits every page
        print(f"blobpi: error: {message}", file=sys.stderr)
    for takedown in report.takedowns:  # loud on purpose: someone must look at these
        prefix = "dry run, would be a TAKEDOWN" if args.dry_run else "TAKEDOWN"
        print(f"blobpi: {prefix}: {takedown}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        sys.stdout.buffer.write(report.to_json())
    else:
        print(("dry run: " if args.dry_run else "") + report.summary())
    return 0 if report.ok else 1


def _one_line_per_foreign_origin(errors: list[str], foreign: dict[str, int]) -> list[str]:
    """Files refused for one origin are one cause: a files host not yet allowed refuses every
    file. Two or more become one line (each is still in the report)."""
    for origin in foreign:
        refused = [m for m in errors if refused_on(origin) in m]
        if len(refused) < 2:
            continue
        errors = [m for m in errors if m not in refused]
        errors.append(
            f"{len(refused)} files are on {origin}, not on an allowed origin: not fetched; "
            f"{allow_hint(origin)}"
        )
    return errors


def _entries(path: Path) -> list[Entry]:
    """The sync's lines: from a PEP 751 ``pylock.toml`` (its exact files, by hash), else
    from the allow-list or its pip-tools lock."""
    if not is_pylock(path.name):
        return read_allowlist(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(
            f"cannot read the lock {str(path)!r} ({e.strerror}): pass --allowlist FILE"
        ) from None
    return entries_of(parse_pylock(text, path.name))


def _lock(args: argparse.Namespace, settings: Settings) -> int:
    _quiet_http()
    from blobpi.mirror.cli.curation import local_gate

    if args.diff:
        from blobpi.sync.core.diff import diff_locks

        old_path, new_path = args.diff
        names = (str(old_path), str(new_path))
        old, new = _read_lock(old_path), _read_lock(new_path)
        print(diff_locks(old, new, names=names, gate=local_gate(args.osv, settings)))
        return 0
    if args.source == "rewrite":  # `blobpi lock rewrite LOCK`; a file so named: ./rewrite
        from blobpi.mirror.cli.lockrewrite import rewrite

        return rewrite(args, settings)
    if args.lock_file is not None:
        raise ConfigError(f"unexpected {args.lock_file!r}: give one SOURCE, or 'rewrite LOCK'")
    from blobpi.sync.core.lockfile import check_lock
    from blobpi.sync.io.lock import lock

    source = Path(args.source)
    pylock = args.format == "pylock"
    output: Path = args.output or (
        source.with_name("pylock.toml") if pylock else source.with_suffix(".txt")
    )
    if not source.is_file():
        raise ConfigError(f"{str(source)!r} is not a file: write allowlist.in first (see README)")
    if args.check:
        problems = check_lock(source, output, settings.lock)
        if args.json:
            print(json.dumps({"lock": str(output), "current": not problems, "stale": problems}))
            return 1 if problems else 0
        for problem in problems:
            print(f"blobpi: error: {output} is stale: {problem}", file=sys.stderr)
        if problems:
            print(f"run 'blobpi lock {source} -o {output}' and commit the result", file=sys.stderr)
            return 1
        print(f"{output} is current for {source}")
        return 0
    if pylock and not args.index_url:  # only writing needs it: --check reads no URL
        raise ConfigError(
            "--format pylock writes the mirror's URLs: give --index-url https://HOST/simple/"
        )
    settings = with_upstream(settings)
    notes: list[str] = []
    gate = local_gate(args.osv, settings)
    index_url = args.index_url if pylock else None
    pins = lock(source, output, settings, index_url=index_url, gate=gate, notes=notes)
    for note in notes:  # what the advisories made the resolution choose
        print(f"advisories: {note}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        pythons, platforms = settings.lock.python_versions, settings.lock.platforms
        outcome = {"lock": str(output), "pins": len(pins), "pythons": pythons}
        print(json.dumps(outcome | {"platforms": platforms}))
        return 0
    print(
        f"wrote {output}: {_count(pins, 'pin')} for "
        f"{_count(settings.lock.python_versions, 'Python version')} x "
        f"{_count(settings.lock.platforms, 'platform')}"
    )
    return 0


def _count(items: Sized, noun: str) -> str:
    """``len(items)`` and the noun, plural unless there is one.

    >>> _count([1], "pin"), _count([], "pin")
    ('1 pin', '0 pins')
    """
    return f"{len(items)} {noun}{'s' * (len(items) != 1)}"


def _read_lock(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as e:
        # An empty file is a lock with no pins (the workflow writes one when the base has none).
        raise ConfigError(
            f"cannot read the lock {str(path)!r} ({e.strerror}): pass two existing lock files "
            "(an empty file stands for no lock)"
        ) from None
