"""The blob store: the container that is blobpi's only state, behind one small protocol.

Two implementations, one code path each: ``LocalStore`` (a directory, the embedded default)
and ``AzureStore`` (a blob container, in Azure or Azurite). ``open_store`` chooses from the
``--storage`` spec. Contract, which ``tests/integration/test_storage_contract.py`` checks on
both:

- ``put(..., create_only=True)`` writes once (``If-None-Match: *``) and raises ``BlobExists``;
  ``put(..., if_match=etag)`` replaces atomically only if unchanged, else
  ``PreconditionFailed``; readers never see a partial blob.
- ``put(..., sha256=hex)`` streams the data through a digest and commits nothing unless it
  matches (``HashMismatch``); large data streams in constant memory, both ways.
- Errors are translated at this edge: ``BlobNotFound``, ``StorageUnavailable``.
- ``lease(path, wait=...)`` holds the one writer's lock (``LeaseHeld`` when another holds
  it); ``signing()`` says how to sign URLs to its blobs, or None where they have none;
  ``local_file()`` names the file a blob is, or None where it is not one.
- A store is an async context manager: ``async with open_store(...) as store:`` closes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

from blobpi.mirror.core.storagespec import check_storage

__all__ = [
    "blob_sha256",
    "CHUNK_SIZE",
    "Blob",
    "BlobInfo",
    "BlobStore",
    "Data",
    "SigningAccess",
    "open_store",
    "redact_url",
]

CHUNK_SIZE = 4 * 1024 * 1024  # read/stage granularity: bounds memory per transfer
Data = bytes | AsyncIterable[bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class BlobInfo:
    path: str
    size: int
    etag: str  # opaque, quoted; changes whenever the content is replaced
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    last_modified: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Blob:
    info: BlobInfo
    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class SigningAccess:
    """What signing read URLs for a store's blobs needs (``store/signing.py``): its
    container URL (no credentials) and the credential it authenticates with, opaque here so
    this layer names no SDK. ``is_sas``: that credential is itself a SAS, which cannot sign."""

    container_url: str
    credential: Any  # the SDK credential object; Any so this layer names no SDK type
    is_sas: bool = False


class BlobStore(Protocol):
    """A flat namespace of immutable files and atomically replaced pages."""

    @property
    def description(self) -> str:
        """Where the store is, safe to print (no credentials)."""

    async def ensure(self, *, create: bool = True) -> None:
        """Create the container or directory if missing (the commands that make an index
        call this first); with ``create=False``, only check that it exists: an error
        naming it if not (``ConfigError`` or ``StorageUnavailable``)."""

    async def head(self, path: str) -> BlobInfo: ...

    async def get(self, path: str, *, if_none_match: str | None = None) -> Blob | None:
        """The whole blob (for pages and state), or None when ``if_none_match`` matches."""

    async def open(
        self, path: str, *, start: int = 0, length: int | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        """Stream a blob, or a byte range of it, in chunks of at most ``CHUNK_SIZE``."""

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
    ) -> BlobInfo: ...

    def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]: ...

    async def delete(self, path: str, *, if_match: str | None = None) -> None: ...

    def leftovers(self, older_than: float) -> AsyncIterator[str]:
        """What interrupted writes left behind for more than ``older_than`` seconds (for
        ``blobpi check``), named for a person; a store that cleans up after itself yields
        nothing."""

    def lease(self, path: str, *, wait: float) -> contextlib.AbstractAsyncContextManager[None]:
        """Hold the single writer's lease on ``path`` for a block; ``LeaseHeld`` if another
        writer still holds it after ``wait`` seconds (see ``lease``)."""

    def signing(self) -> SigningAccess | None:
        """How to sign URLs to this store's blobs, or None (a directory has no URLs)."""

    def local_file(self, path: str) -> str | None:
        """The blob as a file on this machine, for zero-copy sends (ASGI ``pathsend``), or
        None where blobs are not files. Only for immutable blobs (distribution files)."""

    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None:
        """Close the store (``close``)."""


async def blob_sha256(store: BlobStore, path: str) -> str:
    """The sha256 of a blob's bytes, streamed in constant memory (checks re-hash with it)."""
    digest = hashlib.sha256()
    _, chunks = await store.open(path)
    async for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def redact_url(url: str) -> str:
    """Drop credentials (user info, SAS query) from a URL before it is printed or logged.

    >>> redact_url("https://u:p@acct.blob.core.windows.net/c?sv=1&sig=secret")
    'https://acct.blob.core.windows.net/c'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def open_store(spec: str, connection_string: str | None = None) -> BlobStore:
    """A directory path gives a ``LocalStore``; an http(s) container URL an ``AzureStore``
    (``connection_string``: ``Settings.storage_connection_string``, for Azurite)."""
    check_storage(spec)
    if spec.startswith(("http://", "https://")):
        from blobpi.mirror.store.azureblob import AzureStore

        return AzureStore.from_url(spec, connection_string)
    from blobpi.mirror.store.local import LocalStore

    return LocalStore(spec)
