"""``blobpi token``, ``blobpi yank``, ``unyank`` and ``delete``: the index's administration.

They work on the store directly (``--storage``), so they need write access to the container,
not a token: the people who can run them are the people who hold the storage role.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from blobpi.mirror.cli.index import add_storage_argument
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.model import File, format_upload_time
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.retraction import delete, parse_release, unyank, yank
from blobpi.mirror.ops.tokens import (
    Token,
    TokenFile,
    add_token,
    find_token,
    new_token,
    parse_duration,
    scope_of,
)
from blobpi.mirror.store.protocol import BlobStore, open_store

__all__ = ["configure_parser"]

T = TypeVar("T")


def configure_parser(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="create, list and revoke access tokens")
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--name", help="what the token is for, e.g. ci-upload (default: its id)")
    create.add_argument("--scope", required=True, choices=["read", "upload"])
    create.add_argument("--project", help="limit the token to one project")
    create.add_argument("--expires", default="90d", help="lifetime: 12h, 90d, 2w, or never")
    create.set_defaults(handler=_token_create)
    listing = actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--json", action="store_true", help="print the tokens as JSON")
    listing.set_defaults(handler=_token_list)
    revoke = actions.add_parser("revoke", help="revoke a token by id or name")
    revoke.add_argument("token", metavar="ID_OR_NAME")
    revoke.set_defaults(handler=_token_revoke)
    for sub in (create, listing, revoke):
        add_storage_argument(sub)
        sub.add_argument(
            "--token-file",
            help="tokens in this file (default: $BLOBPI_TOKEN_FILE, "
            "else state/tokens.json in the container)",
        )

    for verb, help_text in (
        ("yank", "yank a release or one file (PEP 592); kept across syncs"),
        ("unyank", "undo a yank made with 'blobpi yank'"),
        ("delete", "delete private files of a release"),
    ):
        sub = subparsers.add_parser(verb, help=help_text)
        sub.add_argument("release", metavar="PROJECT==VERSION")
        sub.add_argument("--file", metavar="FILENAME", help="only this file of the release")
        add_storage_argument(sub)
        if verb == "yank":
            sub.add_argument("--reason", required=True, help="why, shown by pip and uv")
        if verb == "delete":
            sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    subparsers.choices["yank"].set_defaults(handler=_yank)
    subparsers.choices["unyank"].set_defaults(handler=_unyank)
    subparsers.choices["delete"].set_defaults(handler=_delete)


def _with_store(
    settings: Settings,
    work: Callable[[Settings, BlobStore], Awaitable[T]],
) -> T:
    async def _run() -> T:
        async with open_store(settings.storage, settings.storage_connection_string) as store:
            await store.ensure(create=False)  # a mistyped --storage is an error, not a new index
            return await work(settings, store)

    return anyio.run(_run)


def _with_tokens(
    settings: Settings,
    work: Callable[[TokenFile], Awaitable[T]],
) -> T:
    async def _open(settings: Settings, store: BlobStore) -> T:
        tokens = TokenFile.open(store, settings.server.token_file)
        try:
            return await work(tokens)
        finally:
            await tokens.close()

    return _with_store(settings, _open)


def _when(value: dt.datetime | None, default: str) -> str:
    return format_upload_time(value)[:16].replace("T", " ") if value else default


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    lifetime = None if args.expires == "never" else parse_duration(args.expires)
    project = project_name(args.project) if args.project else None
    secret, record = new_token(
        args.name or "",
        scope_of(args.scope),
        now=dt.datetime.now(dt.UTC),
        lifetime=lifetime,
        project=project,
    )
    if not args.name:
        record = dataclasses.replace(record, name=record.id)

    async def _add(tokens: TokenFile) -> None:
        await tokens.update(lambda ts: add_token(ts, record))

    _with_tokens(settings, _add)
    print(
        f"created token {record.id} ({record.name!r}), scope {record.scope}"
        + (f", project {project}" if project else "")
        + f", expires {_when(record.expires, 'never')}. It is shown only now: "
        "keep it in a secret store.",
        file=sys.stderr,
    )
    print(secret)
    return 0


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    async def _read(tokens: TokenFile) -> list[Token]:
        current = await tokens.read()
        assert current is not None
        return sorted(current[0].values(), key=lambda t: (t.created, t.id))

    now = dt.datetime.now(dt.UTC)
    found = _with_tokens(settings, _read)
    if args.json:  # what the table shows, never the salt or the hash
        shown = ("id", "name", "scope", "project", "created", "expires", "last_used")
        listed = [{k: v for k, v in t.to_json().items() if k in shown} for t in found]
        print(json.dumps([t | {"expired": found[i].expired(now)} for i, t in enumerate(listed)]))
        return 0
    rows = [("ID", "NAME", "SCOPE", "PROJECT", "EXPIRES (UTC)", "LAST USED (UTC)")]
    for t in found:
        expires = _when(t.expires, "never") + (" (expired)" if t.expired(now) else "")
        rows.append((t.id, t.name, t.scope, t.project or "-", expires, _when(t.last_used, "never")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    revoked: list[Token] = []

    def _drop(tokens: dict[str, Token]) -> dict[str, Token]:
        token = find_token(tokens, args.token)
        revoked[:] = [token]
        return {k: v for k, v in tokens.items() if k != token.id}

    async def _revoke(tokens: TokenFile) -> None:
        await tokens.update(_drop)

    _with_tokens(settings, _revoke)
    print(f"revoked token {revoked[0].id} ({revoked[0].name!r})")
    return 0


def _yank(args: argparse.Namespace, settings: Settings) -> int:
    name, version = parse_release(args.release)

    async def _run(settings: Settings, store: BlobStore) -> list[str]:
        return await yank(store, name, version, args.file, args.reason)

    for filename in _with_store(settings, _run):
        print(f"yanked {filename}")
    return 0


def _unyank(args: argparse.Namespace, settings: Settings) -> int:
    name, version = parse_release(args.release)

    async def _run(settings: Settings, store: BlobStore) -> list[str]:
        return await unyank(store, name, version, args.file)

    for filename in _with_store(settings, _run):
        print(f"unyanked {filename}")
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    name, version = parse_release(args.release)

    async def _confirm(files: list[File]) -> bool:
        listing = ", ".join(f.filename for f in files)
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError(
                f"deleting {listing} needs confirmation: rerun with --yes to delete for good"
            )
        answer = await anyio.to_thread.run_sync(
            input, f"Delete {listing} for good (pip installs of it will fail)? [y/N] "
        )
        return answer.strip().lower() in ("y", "yes")

    async def _run(settings: Settings, store: BlobStore) -> list[File]:
        return await delete(store, name, version, args.file, _confirm)

    deleted = _with_store(settings, _run)
    for f in deleted:
        print(f"deleted {f.filename}")
    if not deleted:
        print("nothing deleted")
    return 0
