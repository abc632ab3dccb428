"""The writer's lease: one sync (per shard) writes at a time.

On Azure it is a blob lease on ``state/sync.lock`` (or ``state/sync-K-of-N.lock``), renewed in
the background while the sync runs and released at the end; a crashed holder's lease expires
by itself after ``DURATION`` seconds. In a local directory it is an ``flock`` on the same
file, which the kernel releases when the process dies. A second sync waits up to ``wait``
seconds, then fails with ``LeaseHeld`` and a message saying what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator

import anyio

from blobpi.mirror.core.errors import LeaseHeld
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["DURATION", "hold_lease", "lease_path"]

DURATION = 60  # seconds; Azure allows 15-60 or infinite, and infinite would outlive a crash
_POLL = 1.0


def lease_path(suffix: str = "") -> str:
    """The lease blob of one shard.

    >>> lease_path("-1-of-2")
    'state/sync-1-of-2.lock'
    """
    return f"state/sync{suffix}.lock"


def _held(path: str, where: str, wait: float) -> LeaseHeld:
    return LeaseHeld(
        f"another sync holds the lease {path!r} in {where} (waited {wait:g}s): let it finish, "
        f"or pass --wait SECONDS; a crashed sync's lease expires within {DURATION}s"
    )


@contextlib.asynccontextmanager
async def _local_lease(root: os.PathLike[str], path: str, wait: float) -> AsyncIterator[None]:
    target = os.path.join(root, *path.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _held(path, str(root), wait) from None
                await anyio.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextlib.asynccontextmanager
async def _azure_lease(store: BlobStore, path: str, wait: float) -> AsyncIterator[None]:
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    from blobpi.mirror.store.azureblob import AzureStore

    assert isinstance(store, AzureStore)
    blob = store.container_client.get_blob_client(path)
    with contextlib.suppress(ResourceExistsError, HttpResponseError):
        await blob.upload_blob(b"", overwrite=False)  # the lease needs a blob to hold
    deadline = time.monotonic() + wait
    while True:
        try:
            lease = await blob.acquire_lease(lease_duration=DURATION)
            break
        except HttpResponseError as e:
            if e.status_code != 409 or time.monotonic() >= deadline:
                if e.status_code == 409:
                    raise _held(path, store.description, wait) from None
                raise
            await anyio.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))

    async def _renew() -> None:
        while True:
            await anyio.sleep(DURATION / 3)
            await lease.renew()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_renew)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(HttpResponseError):
            await lease.release()


@contextlib.asynccontextmanager
async def hold_lease(store: BlobStore, suffix: str = "", wait: float = 0.0) -> AsyncIterator[str]:
    """Hold the sync lease of one shard for the duration of the block; yields its path."""
    from blobpi.mirror.store.local import LocalStore

    path = lease_path(suffix)
    await store.ensure()
    if isinstance(store, LocalStore):
        async with _local_lease(store.root, path, wait):
            yield path
    else:
        async with _azure_lease(store, path, wait):
            yield path
