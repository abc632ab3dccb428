"""The writer's lease: one sync (per shard) writes at a time.

Each store implements it (``BlobStore.lease``): on Azure a blob lease on ``state/sync.lock``
(or ``state/sync-K-of-N.lock``), renewed in the background while the sync runs and released
at the end, so a crashed holder's lease expires by itself after ``DURATION`` seconds; in a
local directory an ``flock`` on the same file, which the kernel releases when the process
dies. A second sync waits up to ``wait`` seconds, then fails with ``LeaseHeld`` and a message
saying what to do. This module names the lease and its rules; the adapters hold it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from blobpi.mirror.core.errors import LeaseHeld
from blobpi.mirror.core.layout import lease_path
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["DURATION", "POLL", "held", "hold_lease"]

DURATION = 60  # seconds; Azure allows 15-60 or infinite, and infinite would outlive a crash
POLL = 1.0  # seconds between attempts while another writer holds it


def held(path: str, where: str, wait: float) -> LeaseHeld:
    """The error for a lease still held after ``wait`` seconds (every store says the same)."""
    return LeaseHeld(
        f"another sync holds the lease {path!r} in {where} (waited {wait:g}s): let it finish, "
        f"or pass --wait SECONDS; a crashed sync's lease expires within {DURATION}s"
    )


@contextlib.asynccontextmanager
async def hold_lease(store: BlobStore, suffix: str = "", wait: float = 0.0) -> AsyncIterator[str]:
    """Hold the sync lease of one shard for the duration of the block; yields its path."""
    path = lease_path(suffix)
    await store.ensure()
    async with store.lease(path, wait=wait):
        yield path
