"""``AzureStore``: the blob store as an Azure Blob Storage container (Azure or Azurite).

One code path for both; only client construction differs (``from_url``): a SAS in the URL,
else ``AZURE_STORAGE_CONNECTION_STRING`` (Azurite, development), else
``DefaultAzureCredential`` (managed identity in production). Writes of files are write-once
(``If-None-Match: *``); streamed writes stage blocks while hashing and commit the block list
only when the sha256 matches, so a half-written or wrong file is never visible.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)
from azure.storage.blob import BlobBlock, BlobProperties, ContentSettings
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from blobpi.mirror.core.errors import (
    BlobExists,
    BlobNotFound,
    ConfigError,
    HashMismatch,
    PreconditionFailed,
    StorageUnavailable,
)
from blobpi.mirror.store.lease import DURATION, POLL, held
from blobpi.mirror.store.protocol import (
    CHUNK_SIZE,
    Blob,
    BlobInfo,
    Data,
    SigningAccess,
    redact_url,
)

__all__ = ["AzureStore", "parse_container_url"]

_CONTAINER_RE = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
T = TypeVar("T")


def parse_container_url(url: str) -> tuple[str, str]:
    """Split a container URL into (account URL, container name).

    >>> parse_container_url("https://acct.blob.core.windows.net/pkgs")
    ('https://acct.blob.core.windows.net', 'pkgs')
    >>> parse_container_url("http://127.0.0.1:10000/devstoreaccount1/pkgs")
    ('http://127.0.0.1:10000/devstoreaccount1', 'pkgs')
    """
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if not segments or not _CONTAINER_RE.match(segments[-1]):
        raise ConfigError(
            f"{redact_url(url)!r} is not a container URL: use "
            "https://ACCOUNT.blob.core.windows.net/CONTAINER, or for Azurite "
            "http://127.0.0.1:10000/devstoreaccount1/CONTAINER (container names: 3-63 of a-z 0-9 -)"
        )
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    account = "/".join([f"{parts.scheme}://{netloc}", *segments[:-1]])
    return account, segments[-1]


# Fail in seconds, not minutes, when the account cannot be reached: the SDK's default
# backoff (15 s, then +3^n) makes an unreachable account take about 80 s to report.
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 3,
    "initial_backoff": 0.5,
    "increment_base": 2,
    "connection_timeout": 10,
}


def account_of(container_url: str) -> str:
    """The storage account a container URL names (host-style or Azurite's path-style).

    >>> account_of("https://acct.blob.core.windows.net/pkgs")
    'acct'
    >>> account_of("http://127.0.0.1:10000/devstoreaccount1/pkgs")
    'devstoreaccount1'
    """
    parts = urlsplit(container_url)
    host = parts.hostname or ""
    if host == "localhost" or re.fullmatch(r"[\d.]+|[0-9a-f:]+", host):
        return parts.path.strip("/").split("/")[0]
    return host.split(".")[0]


def connection_string_parts(connection_string: str) -> dict[str, str]:
    """``Key=Value;...`` as a dict (values may contain '=', as keys and SAS tokens do)."""
    return dict(item.split("=", 1) for item in connection_string.split(";") if "=" in item)


def _connection_string_credential(connection_string: str, account: str) -> Any:
    parts = connection_string_parts(connection_string)
    named = parts.get("AccountName")
    if named and named != account:
        raise ConfigError(
            f"AZURE_STORAGE_CONNECTION_STRING is for account {named!r}, but --storage names "
            f"account {account!r}: use that account's connection string, or unset it"
        )
    if parts.get("AccountKey"):
        return {"account_name": named or account, "account_key": parts["AccountKey"]}
    if parts.get("SharedAccessSignature"):
        return parts["SharedAccessSignature"]
    raise ConfigError(
        "AZURE_STORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature: "
        "copy the full connection string from the portal, or unset it to use an identity"
    )


def _info(props: BlobProperties, path: str, size: int | None = None) -> BlobInfo:
    return BlobInfo(
        path=path,
        size=props.size if size is None else size,
        etag=props.etag if props.etag.startswith('"') else f'"{props.etag}"',
        metadata=dict(props.metadata or {}),
        last_modified=props.last_modified,
    )


class AzureStore:
    def __init__(self, container: ContainerClient, where: str, closers: list[Any]) -> None:
        self._container = container
        self._where = where
        self._closers = closers

    @classmethod
    def from_url(cls, url: str, connection_string: str | None = None) -> AzureStore:
        """The store for ``--storage URL``: the URL always says which account and container;
        the credential comes from the URL's SAS, else ``AZURE_STORAGE_CONNECTION_STRING``
        (which must be for the same account), else ``DefaultAzureCredential`` (https only)."""
        account_url, name = parse_container_url(url)
        where = f"{account_url}/{name}"
        if urlsplit(url).query:  # a SAS: the URL is its own credential
            container = ContainerClient.from_container_url(url, **_CLIENT_OPTIONS)
            return cls(container, where, [container])
        if connection_string:
            credential = _connection_string_credential(connection_string, account_of(url))
            service = BlobServiceClient(account_url, credential=credential, **_CLIENT_OPTIONS)
            return cls(service.get_container_client(name), where, [service])
        if urlsplit(url).scheme != "https":
            raise ConfigError(
                f"{where} is plain http, which only Azurite speaks: set "
                "AZURE_STORAGE_CONNECTION_STRING to Azurite's, or use an https:// account URL"
            )
        from azure.identity.aio import DefaultAzureCredential

        identity = DefaultAzureCredential()
        service = BlobServiceClient(account_url, credential=identity, **_CLIENT_OPTIONS)
        return cls(service.get_container_client(name), where, [service, identity])

    @property
    def description(self) -> str:
        return self._where

    def local_file(self, path: str) -> None:
        return None  # a blob is reached over HTTP only

    def signing(self) -> SigningAccess:
        return SigningAccess(
            self._where,
            self._container.credential,
            is_sas="sig=" in self._container.url.partition("?")[2],
        )

    async def _call(self, path: str, operation: Callable[[], Awaitable[T]]) -> T:
        with self._translated(path):
            return await operation()

    @contextlib.contextmanager
    def _translated(self, path: str) -> Iterator[None]:
        """Azure's exceptions become blobpi's, without the SDK's multi-line messages."""
        try:
            yield
        except ResourceNotFoundError as e:
            if getattr(e, "error_code", None) == "ContainerNotFound":
                raise StorageUnavailable(
                    f"the container {self._where} does not exist: check the URL, or let "
                    "'blobpi upload' or 'blobpi sync' create it"
                ) from None
            raise BlobNotFound(f"no blob {path!r} in {self._where}") from None
        except ResourceModifiedError:
            raise PreconditionFailed(f"blob {path!r} changed while it was updated") from None
        except ResourceExistsError:
            raise BlobExists(f"blob {path!r} already exists in {self._where}") from None
        except ClientAuthenticationError:
            raise StorageUnavailable(
                f"access to {self._where} was denied: check the credentials "
                "(AZURE_STORAGE_CONNECTION_STRING, a SAS, or the identity's blob data role)"
            ) from None
        except HttpResponseError as e:
            if e.status_code == 412:
                raise PreconditionFailed(f"blob {path!r} changed while it was updated") from None
            if e.status_code == 409 and "BlobAlreadyExists" in str(getattr(e, "error_code", "")):
                raise BlobExists(f"blob {path!r} already exists in {self._where}") from None
            if e.status_code == 403:
                raise StorageUnavailable(
                    f"access to {self._where} was denied (HTTP 403): check the credentials "
                    "and the identity's blob data role"
                ) from None
            code = getattr(e, "error_code", None)
            raise StorageUnavailable(
                f"{self._where} answered HTTP {e.status_code} ({code}) for {path!r}"
            ) from None
        except AzureError as e:
            raise StorageUnavailable(
                f"cannot reach {self._where} ({type(e).__name__}): check the URL and the network"
            ) from None

    async def ensure(self, *, create: bool = True) -> None:
        async def _create() -> None:
            try:
                await self._container.create_container()
            except ResourceExistsError:
                pass

        async def _check() -> None:
            await self._container.get_container_properties()  # ContainerNotFound: translated

        await self._call("", _create if create else _check)

    async def head(self, path: str) -> BlobInfo:
        props = await self._call(path, self._container.get_blob_client(path).get_blob_properties)
        return _info(props, path)

    async def get(self, path: str, *, if_none_match: str | None = None) -> Blob | None:
        blob = self._container.get_blob_client(path)

        async def _download() -> Blob | None:
            kwargs: dict[str, Any] = {}
            if if_none_match is not None:
                kwargs = {"etag": if_none_match, "match_condition": MatchConditions.IfModified}
            try:
                downloader = await blob.download_blob(**kwargs)
            except (ResourceNotModifiedError, ResourceModifiedError):
                return None  # 304 from Azure; Azurite answers 412 to a matching If-None-Match
            data = await downloader.readall()
            return Blob(_info(downloader.properties, path, len(data)), data)

        return await self._call(path, _download)

    async def open(
        self, path: str, *, start: int = 0, length: int | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        blob = self._container.get_blob_client(path)
        downloader = await self._call(
            path,
            lambda: blob.download_blob(
                offset=start if start or length is not None else None,
                length=length,
                max_concurrency=1,
            ),
        )
        props = downloader.properties
        total = int(str(props.content_range).rpartition("/")[2] or props.size)
        info = _info(props, path, total)

        async def _chunks() -> AsyncIterator[bytes]:
            async for chunk in downloader.chunks():
                yield chunk

        return info, _chunks()

    async def put(
        self,
        path: str,
        data: Data,
        *,
        create_only: bool = False,
        if_match: str | None = None,
        sha256: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> BlobInfo:
        blob = self._container.get_blob_client(path)
        conditions: dict[str, Any] = {}
        if create_only:
            conditions = {"match_condition": MatchConditions.IfMissing}
        elif if_match is not None:
            conditions = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        settings = ContentSettings(content_type=content_type) if content_type else None
        block_ids: list[str] = []
        prefix = uuid.uuid4().hex  # blocks of concurrent writers to one blob never mix
        digest = hashlib.sha256()

        async def _stage(chunk: bytes) -> None:
            block_id = base64.b64encode(f"{prefix}{len(block_ids):08d}".encode()).decode()
            # a stream, not bytes: aiohttp warns that large bytes bodies block the loop
            await blob.stage_block(block_id, io.BytesIO(chunk), length=len(chunk))
            block_ids.append(block_id)

        async def _write() -> BlobInfo:
            if isinstance(data, bytes):
                digest.update(data)
                _check(path, digest, sha256)
                await blob.upload_blob(
                    data,
                    overwrite=True,
                    metadata=dict(metadata or {}),
                    content_settings=settings,
                    **conditions,
                )
            else:
                pending = bytearray()
                async for chunk in data:
                    digest.update(chunk)
                    pending += chunk
                    while len(pending) >= CHUNK_SIZE:
                        await _stage(bytes(pending[:CHUNK_SIZE]))
                        del pending[:CHUNK_SIZE]
                if pending or not block_ids:
                    await _stage(bytes(pending))
                _check(path, digest, sha256)  # uncommitted blocks expire on their own
                await blob.commit_block_list(
                    [BlobBlock(block_id) for block_id in block_ids],
                    metadata=dict(metadata or {}),
                    content_settings=settings,
                    **conditions,
                )
            return await self.head(path)

        return await self._call(path, _write)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        pages = self._container.list_blobs(name_starts_with=prefix or None, include=["metadata"])
        with self._translated(prefix):
            async for props in pages:
                yield _info(props, props.name)

    async def leftovers(self, older_than: float) -> AsyncIterator[str]:
        """Nothing: an interrupted upload leaves only uncommitted blocks, which no reader
        sees and Azure discards after seven days by itself."""
        return
        yield  # makes this an async generator that yields nothing

    async def delete(self, path: str, *, if_match: str | None = None) -> None:
        blob = self._container.get_blob_client(path)
        kwargs: dict[str, Any] = {}
        if if_match is not None:
            kwargs = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        await self._call(path, lambda: blob.delete_blob(**kwargs))

    @contextlib.asynccontextmanager
    async def lease(self, path: str, *, wait: float) -> AsyncIterator[None]:
        """A blob lease, renewed in the background; a crashed holder's lapses by itself."""
        blob = self._container.get_blob_client(path)
        try:
            await blob.upload_blob(b"", overwrite=False)  # the lease needs a blob to hold
        except HttpResponseError as e:
            # 409 (it exists) or 412 (it exists and another sync leases it) are what we want
            if e.status_code not in (409, 412):
                with self._translated(path):
                    raise
        except AzureError:
            with self._translated(path):
                raise
        deadline = time.monotonic() + wait
        while True:
            try:
                lease = await blob.acquire_lease(lease_duration=DURATION)
                break
            except HttpResponseError as e:
                if e.status_code != 409:  # 409: LeaseAlreadyPresent, another sync holds it
                    with self._translated(path):
                        raise
                if time.monotonic() >= deadline:
                    raise held(path, self._where, wait) from e
                await anyio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))

        async def _renew() -> None:
            while True:
                await anyio.sleep(DURATION / 3)
                try:
                    await lease.renew()
                except AzureError as e:
                    raise StorageUnavailable(
                        f"lost the lease {path!r} in {self._where} ({type(e).__name__}): "
                        "nothing more is written; rerun the sync"
                    ) from e

        try:
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(_renew)
                    try:
                        yield
                    finally:
                        group.cancel_scope.cancel()
            except BaseExceptionGroup as e:
                # The task group wraps what the block raised (an OperationRefused) or the lost
                # lease; the caller is owed that one error, not a group with a traceback.
                if len(e.exceptions) == 1 and isinstance(e.exceptions[0], Exception):
                    raise e.exceptions[0] from None
                raise
        finally:
            # Best effort: a lease that cannot be released lapses within DURATION by itself,
            # and a failed release must not hide the block's own outcome.
            with anyio.CancelScope(shield=True), contextlib.suppress(AzureError):
                await lease.release()

    async def close(self) -> None:
        for closer in self._closers:
            await closer.close()

    async def __aenter__(self) -> AzureStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _check(path: str, digest: Any, expected: str | None) -> None:
    if expected is not None and digest.hexdigest() != expected:
        raise HashMismatch(
            f"{path!r}: sha256 {digest.hexdigest()} does not match the expected {expected}"
        )
