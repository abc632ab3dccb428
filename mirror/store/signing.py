"""Signing read-only SAS URLs for single blobs of the store's container: the one home of
the signing concept, used by the server's download redirects (``server/redirects.py``) and
by Azure ML's blob URLs (``deploy/azure/sas.py``).

The SAS is signed with a user delegation key (an Entra identity with the Storage Blob Data
Reader and Delegator roles: production, where shared keys are off) or with the account key
(Azurite, development; only when a connection string holds one). The expiry is bucketed
(``core/expiry.py``); for a user delegation SAS the key's start and expiry are bucketed too,
since they are signed into the URL. A store whose credential is itself a SAS, or a directory,
cannot sign: ``signing_problem`` says so before anything is served.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from urllib.parse import quote

from blobpi.mirror.core.errors import ConfigError, StorageUnavailable
from blobpi.mirror.core.expiry import bucketed_window
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["Signer", "delegation_signer", "signer_for", "signing_problem"]


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
            permission="r",  # read only (sp=r), of this one blob (sr=b)
            expiry=expiry,
            # Production URLs are https; require it (spr=https). Azurite speaks http.
            protocol="https" if self.container_url.startswith("https://") else None,
        )

    def blob_url(self, blob_path: str, expiry: dt.datetime) -> str:
        """The blob's URL on the container's own endpoint, with its SAS: a credential."""
        return f"{self.container_url}/{quote(blob_path)}?{self.sas(blob_path, expiry)}"

    def url(self, blob_path: str, sha256: str, expiry: dt.datetime) -> str:
        """``blob_url`` with ``#sha256=``, which pip checks."""
        return f"{self.blob_url(blob_path, expiry)}#sha256={sha256}"


def _account_key(connection_string: str | None) -> tuple[str, str] | None:
    from blobpi.mirror.store.azureblob import connection_string_parts

    parts = connection_string_parts(connection_string or "")
    if parts.get("AccountName") and parts.get("AccountKey"):
        return parts["AccountName"], parts["AccountKey"]
    return None


def signing_problem(store: BlobStore, connection_string: str | None) -> str | None:
    """Why URLs to this store's blobs cannot be signed, or None when they can (whether the
    identity may get a delegation key shows only when it asks: ``blobpi check``)."""
    access = store.signing()
    if access is None:
        return f"the storage {store.description} is a directory, which has no blob URLs"
    if _account_key(connection_string) is None and access.is_sas:
        return (
            f"the credential for {access.container_url} is a SAS, which cannot sign other URLs "
            "(give the plain container URL and an Entra identity, or an account key)"
        )
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
