"""``blobpi check``: a doctor. One line per check, with the fix under each failure.

Checks: the storage answers; it is writable (the sync role) or readable (``--role server``);
on Azure, who is signed in and whether the server can sign read URLs; the upstream answers
PEP 691 JSON; the lock is current for ``allowlist.in``; every page's files are present with
matching size and sha256 metadata and every wheel's ``.metadata`` is there; blobs no page
links (orphans) and files interrupted writes left. ``--deep`` re-hashes every file.

Exit status: 0 when no check failed (warnings are reported, not failures), 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from blobpi.mirror.cli import checks, container_checks
from blobpi.mirror.cli.checks import Result
from blobpi.mirror.cli.index import add_storage_argument
from blobpi.mirror.cli.interrupt import run_until_signalled
from blobpi.mirror.core.errors import MirrorError
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.settings import with_upstream
from blobpi.mirror.store.protocol import open_store

__all__ = ["configure_parser", "run_checks"]

_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skip": "skip"}


def configure_parser(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check",
        help="check storage, identity, upstream, lock and the container's consistency",
        description=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_storage_argument(check)
    check.add_argument("--config", help="blobpi.toml (default: $BLOBPI_CONFIG, else ./blobpi.toml)")
    check.add_argument("--upstream", help="the upstream simple index URL (default: as sync)")
    check.add_argument("--allowlist", help="allowlist.txt (default: $BLOBPI_ALLOWLIST)")
    check.add_argument(
        "--role",
        choices=["sync", "server"],
        default="sync",
        help="whose access to check: sync (writes; upstream and lock) or server (reads, signs)",
    )
    check.add_argument("--deep", action="store_true", help="also re-hash every file")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.set_defaults(handler=_check)


async def run_checks(settings: Settings, role: checks.Role, deep: bool) -> list[Result]:
    """Every check, in the order they are printed."""
    results: list[Result] = []
    async with open_store(settings.storage, settings.storage_connection_string) as store:
        results.append(await checks.storage(store, role))
        reachable = results[-1].status != "fail"
        if reachable:
            results.append(await checks.writable(store, role))
        results.append(await checks.identity(store, settings))
        if reachable:
            results.append(await checks.delegation(store, settings, role))
        if role == "sync":
            names = checks.allowlist_names(settings.sync.allowlist)
            results.append(await checks.upstream(settings, names))
            results.append(checks.lock(settings))
        if reachable:
            try:
                snap = await container_checks.Snapshot.read(store)
            except MirrorError as e:
                results.append(Result("pages", "fail", f"cannot read the pages: {e}"))
            else:
                results += container_checks.consistency(snap)
                if deep:
                    results.append(await container_checks.rehash(store, snap))
            results.append(await container_checks.leftovers(store))
            results.append(await container_checks.last_sync(store, dt.datetime.now(dt.UTC)))
    return results


def _print(results: list[Result]) -> None:
    for r in results:
        print(f"{_MARK[r.status]}  {r.name}: {r.detail}")
        for item in r.items:
            print(f"        {item}")
        if r.fix and r.status in ("fail", "warn"):
            print(f"        fix: {r.fix}")
    counts = {s: sum(r.status == s for r in results) for s in _MARK}
    warnings = f"{counts['warn']} warning{'s' * (counts['warn'] != 1)}"
    print(
        f"{len(results)} checks: {counts['ok']} ok, {warnings}, {counts['fail']} failed, "
        f"{counts['skip']} skipped"
    )


def _check(args: argparse.Namespace, settings: Settings) -> int:
    if args.role == "sync":
        settings = with_upstream(settings)
    results = run_until_signalled(lambda: run_checks(settings, args.role, args.deep))
    ok = all(r.status != "fail" for r in results)
    if args.json:
        json.dump({"ok": ok, "checks": [r.to_json() for r in results]}, sys.stdout, indent=2)
        print()
    else:
        _print(results)
    return 0 if ok else 1
