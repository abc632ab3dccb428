"""The access checks of ``blobpi check``: storage, identity, URL signing, upstream, lock.
One function each, returning a ``Result`` (what it looked at, and the fix for a failure);
none raises for what it finds. The container's own checks are in ``container_checks``."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from packaging.utils import NormalizedName

from blobpi.mirror.core.errors import BlobNotFound, MirrorError
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.store.protocol import BlobStore, redact_url

__all__ = ["Result", "Role", "items"]

Status = Literal["ok", "warn", "fail", "skip"]
Role = Literal["sync", "server"]
_SHOWN = 10  # items named per result; the count says how many there are
_STORAGE_SCOPE = "https://storage.azure.com/.default"


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    name: str
    status: Status
    detail: str
    fix: str = ""
    items: tuple[str, ...] = ()  # what the detail counts: files, blobs, problems

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"items": list(self.items)}


def items(found: Sequence[str]) -> tuple[str, ...]:
    shown = tuple(found[:_SHOWN])
    return shown + ((f"... and {len(found) - _SHOWN} more",) if len(found) > _SHOWN else ())


async def storage(store: BlobStore, role: Role) -> Result:
    try:
        await store.head(page_path(None, Format.JSON))
        detail = f"{store.description} answers"
    except BlobNotFound:
        detail = f"{store.description} answers, with no root page yet: an empty index"
        if role == "server":
            fix = "fill it first with 'blobpi sync' or 'blobpi upload'"
            return Result("storage", "warn", detail, fix)
    except MirrorError as e:
        return Result(
            "storage",
            "fail",
            f"cannot read {store.description}: {e}",
            "check --storage / BLOBPI_STORAGE and the network; on Azure the identity needs "
            "'Storage Blob Data Reader' (server) or 'Storage Blob Data Contributor' (sync)",
        )
    return Result("storage", "ok", detail)


async def writable(store: BlobStore, role: Role) -> Result:
    if role == "server":
        return Result("storage-write", "skip", "the server role only reads (and notes token use)")
    probe = f"state/check-{uuid.uuid4().hex}.tmp"
    try:
        await store.put(probe, b"blobpi check\n", create_only=True)
        await store.delete(probe)
    except MirrorError as e:
        return Result(
            "storage-write",
            "fail",
            f"cannot write to {store.description}: {e}",
            "give the sync's identity 'Storage Blob Data Contributor' on the container (or "
            "make the directory writable)",
        )
    return Result("storage-write", "ok", f"wrote and deleted {probe}")


def _claims(token: str) -> Mapping[str, Any]:
    """The payload of a JWT, unverified: only to say who signed in (never printed whole)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


async def identity(store: BlobStore, settings: Settings) -> Result:
    access = store.signing()
    if access is None:
        return Result("identity", "skip", "a local directory: no Azure identity is used")
    if settings.storage_connection_string:
        return Result("identity", "ok", "an account key from AZURE_STORAGE_CONNECTION_STRING")
    if access.is_sas:
        return Result("identity", "ok", "the SAS in the --storage URL (no Entra identity)")
    credential = access.credential
    try:
        token = await credential.get_token(_STORAGE_SCOPE)
    except Exception as e:  # the SDK's credential errors share no base class worth naming
        return Result(
            "identity",
            "fail",
            f"no Entra token for storage ({type(e).__name__})",
            "sign in: 'az login', a managed identity (set AZURE_CLIENT_ID for a user-assigned "
            "one), or workload identity",
        )
    claims = _claims(token.token)
    who = claims.get("upn") or claims.get("unique_name") or claims.get("appid") or "unknown"
    return Result("identity", "ok", f"signed in as {who} (object id {claims.get('oid', '?')})")


async def delegation(store: BlobStore, settings: Settings, role: Role) -> Result:
    if store.signing() is None:
        return Result("delegation", "skip", "a local directory signs no URLs")
    if role != "server":
        return Result("delegation", "skip", "only the server (SAS downloads, Azure ML) signs URLs")
    from blobpi.mirror.store.signing import signer_for

    now = dt.datetime.now(dt.UTC)
    try:
        await signer_for(store, settings.storage_connection_string, now, dt.timedelta(hours=1))
    except MirrorError as e:
        return Result("delegation", "fail", str(e), "grant 'Storage Blob Delegator'")
    return Result("delegation", "ok", "can sign read URLs (user delegation key or account key)")


async def upstream(settings: Settings, names: Sequence[NormalizedName]) -> Result:
    from blobpi.sync.io.network import client_for
    from blobpi.sync.io.upstream import Upstream

    where = redact_url(settings.sync.upstream)
    if not names:
        path = settings.sync.allowlist
        return Result("upstream", "skip", f"{path} is missing or empty: no project to ask {where}")
    config = settings.sync
    try:
        # the sync's own client: the same proxies and trust store, so the check sees its path
        async with (
            client_for(config) as http,
            Upstream(config.upstream, retries=1, client=http) as client,
        ):
            version = await client.api_version(names[0])
    except MirrorError as e:
        return Result("upstream", "fail", str(e), "check --upstream / BLOBPI_UPSTREAM")
    if version is None:
        return Result(
            "upstream",
            "warn",
            f"{where} answers with HTML only (PEP 503), not PEP 691 JSON",
            "the sync works, but without sizes and upload times: prefer a PEP 691 upstream",
        )
    return Result("upstream", "ok", f"{where} speaks PEP 691 (api-version {version})")


def lock(settings: Settings) -> Result:
    from blobpi.sync.core.lockfile import check_lock

    output = settings.sync.allowlist
    source = output.with_suffix(".in")
    if not source.is_file():
        return Result("lock", "skip", f"no {source} beside {output}")
    problems = check_lock(source, output, settings.lock)
    if problems:
        return Result(
            "lock",
            "fail",
            f"{output} is stale for {source}",
            f"run 'blobpi lock {source} -o {output}' and commit the result",
            items(problems),
        )
    return Result("lock", "ok", f"{output} is current for {source}")


def allowlist_names(path: Path) -> list[NormalizedName]:
    """The allow-list's project names, or none when it cannot be read (the lock check says)."""
    from blobpi.sync.core.allowlist import read_allowlist

    try:
        return sorted({e.name for e in read_allowlist(path)})
    except MirrorError:
        return []
