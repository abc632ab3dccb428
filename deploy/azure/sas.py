"""Blob-URL mode: pinned requirements as direct URLs to the container's files, each with a
read-only SAS and ``#sha256=`` (which pip verifies), as ``add_private_pip_wheel`` gave in
SDK v1 for one wheel, here for any file in the mirror.

The SAS is signed with a user delegation key (an Entra identity with the Storage Blob Data
Reader and Delegator roles: production, where shared keys are off) or with the account key
(Azurite, development; only when a connection string holds one). The expiry is bucketed, so
calls within one bucket print byte-identical URLs and an environment built from them does
not change version on every run; for a user delegation SAS the key's start and expiry are
bucketed too, since they are signed into the URL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from blobpi.deploy.core.requirements import PinnedRequirement
from blobpi.deploy.core.targets import Target, choose_wheel
from blobpi.mirror.core.durations import parse_duration
from blobpi.mirror.core.errors import ConfigError, StorageUnavailable
from blobpi.mirror.core.model import File
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore

__all__ = [
    "MAX_LIFETIME",
    "Signer",
    "bucketed_window",
    "delegation_signer",
    "parse_lifetime",
    "signer_for",
    "url_line",
    "wheel_urls",
]

MAX_LIFETIME = dt.timedelta(days=7)  # the longest a user delegation key may live
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def parse_lifetime(raw: str) -> dt.timedelta:
    """``30m``, ``12h``, ``7d``: how long the URLs stay valid, at most 7 days.

    >>> parse_lifetime("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    lifetime = parse_duration(raw)
    if lifetime < dt.timedelta(minutes=5) or lifetime > MAX_LIFETIME:
        raise ConfigError(
            f"--expires {raw!r} is out of range: give between 5m and 7d (a user delegation "
            "key lives at most 7 days)"
        )
    return lifetime


def bucketed_window(now: dt.datetime, lifetime: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """(start, expiry) with start = ``now`` rounded down to a bucket of an eighth of the
    lifetime (1 minute to 1 day): every call in one bucket gets the same window, and a URL
    stays valid for between 7/8 of ``lifetime`` and all of it.

    >>> now = dt.datetime(2026, 1, 1, 10, 7, tzinfo=dt.UTC)
    >>> [t.isoformat() for t in bucketed_window(now, dt.timedelta(hours=8))]
    ['2026-01-01T10:00:00+00:00', '2026-01-01T18:00:00+00:00']
    """
    bucket = min(max(lifetime / 8, dt.timedelta(minutes=1)), dt.timedelta(days=1))
    start = _EPOCH + ((now - _EPOCH) // bucket) * bucket
    return start, start + lifetime


@dataclasses.dataclass(frozen=True)
class Signer:
    """Signs read-only blob SAS tokens; ``generate_blob_sas`` is pure (an HMAC)."""

    account_name: str
    container_url: str  # https://ACCOUNT.blob.core.windows.net/CONTAINER, no query
    account_key: str | None = dataclasses.field(default=None, repr=False)
    user_delegation_key: Any = dataclasses.field(default=None, repr=False)

    @property
    def container_name(self) -> str:
        return self.container_url.rstrip("/").rsplit("/", 1)[1]

    def sas(self, blob_path: str, expiry: dt.datetime) -> str:
        from azure.storage.blob import generate_blob_sas

        return generate_blob_sas(
            self.account_name,
            self.container_name,
            blob_path,
            account_key=self.account_key,
            user_delegation_key=self.user_delegation_key,
            permission="r",
            expiry=expiry,
            # Production URLs are https; require it (spr=https). Azurite speaks http.
            protocol="https" if self.container_url.startswith("https://") else None,
        )

    def url(self, blob_path: str, sha256: str, expiry: dt.datetime) -> str:
        return (
            f"{self.container_url}/{quote(blob_path)}?{self.sas(blob_path, expiry)}#sha256={sha256}"
        )


def url_line(
    name: str, file: File, signer: Signer, expiry: dt.datetime, extras: Sequence[str] = ()
) -> str:
    """``name @ URL#sha256=...``: a PEP 508 direct reference pip installs and checks."""
    if file.blob_path is None or file.sha256 is None:
        raise ConfigError(f"{file.filename} is not stored in the container with a sha256")
    extra = f"[{','.join(extras)}]" if extras else ""
    return f"{name}{extra} @ {signer.url(file.blob_path, file.sha256, expiry)}"


def _account_key(connection_string: str | None) -> tuple[str, str] | None:
    from blobpi.mirror.store.azureblob import connection_string_parts

    parts = connection_string_parts(connection_string or "")
    if parts.get("AccountName") and parts.get("AccountKey"):
        return parts["AccountName"], parts["AccountKey"]
    return None


async def signer_for(
    store: BlobStore,
    connection_string: str | None,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> tuple[Signer, dt.datetime]:
    """A signer for the store's container and the bucketed expiry to sign with: an account
    key from ``connection_string`` (``Settings.storage_connection_string``), else a user
    delegation key from the store's credential."""
    from blobpi.mirror.store.azureblob import account_of, parse_container_url

    access = store.signing()
    if access is None:
        raise ConfigError(
            "blob URLs need the mirror's container, not a directory: give --storage "
            "https://ACCOUNT.blob.core.windows.net/CONTAINER"
        )
    container_url = access.container_url
    start, expiry = bucketed_window(now, lifetime)
    key = _account_key(connection_string)
    if key is not None:
        if key[0] != account_of(container_url):
            raise ConfigError(
                f"AZURE_STORAGE_CONNECTION_STRING is for account {key[0]!r}, but --storage is "
                f"in {account_of(container_url)!r}: use the connection string of that account"
            )
        return Signer(key[0], container_url, account_key=key[1]), expiry
    if access.is_sas:
        raise ConfigError(
            "a SAS container URL cannot sign other URLs: give the plain container URL and "
            "sign in with an Entra identity (az login, or a managed identity)"
        )
    from azure.storage.blob.aio import BlobServiceClient

    account_url, _ = parse_container_url(container_url)
    service = BlobServiceClient(account_url, credential=access.credential)
    try:
        return await delegation_signer(service, container_url, start, expiry), expiry
    finally:
        await service.close()


async def delegation_signer(
    service: Any, container_url: str, start: dt.datetime, expiry: dt.datetime
) -> Signer:
    """A user delegation signer: one key per call, valid over the bucketed window, so two
    calls in one bucket sign with the same key fields. Azurite derives the key's value from
    those fields and the identity, so the URLs are identical too; docs/azureml.md says what
    is not verified against Azure."""
    from azure.core.exceptions import AzureError

    try:
        delegation = await service.get_user_delegation_key(start, expiry)
    except AzureError as e:
        raise StorageUnavailable(
            f"could not get a user delegation key for {service.url} ({type(e).__name__}): the "
            "identity needs 'Storage Blob Delegator' on the account, over https"
        ) from None
    return Signer(str(service.account_name), container_url, user_delegation_key=delegation)


async def wheel_urls(
    store: BlobStore,
    requirements: Sequence[PinnedRequirement],
    *,
    target: Target,
    connection_string: str | None,
    lifetime: dt.timedelta,
    now: dt.datetime | None = None,
) -> list[str]:
    """One ``name @ URL`` line per requirement that applies on ``target`` (markers are
    evaluated for it), each naming the wheel pip would pick there. All lines are resolved
    before any is printed, so a bad line fails the whole call."""
    now = now or dt.datetime.now(dt.UTC)
    signer, expiry = await signer_for(store, connection_string, now, lifetime)
    markers = target.marker_environment()
    chosen = [
        (req, choose_wheel(await read_project(store, req.name), req, target))
        for req in requirements
        if req.applies(markers)
    ]
    return [url_line(req.name, file, signer, expiry, req.extras) for req, file in chosen]
