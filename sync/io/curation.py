"""The sync's curation gate, opened once a run: the OSV database refreshed from
``[curation] osv-url`` (under the lease, through the sync's client), else the copy the
container holds, with the allow-list's waivers. A failed refresh with a stored copy is a note
(the gate still holds); with no copy at all it is a failure, and the run goes on without a
gate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import httpx

from blobpi.mirror.core.errors import MirrorError
from blobpi.mirror.core.settings import CurationConfig
from blobpi.mirror.store.advisories import read_database
from blobpi.mirror.store.protocol import BlobStore
from blobpi.sync.core.gate import Gate, Waiver
from blobpi.sync.io.osv import refresh_database
from blobpi.sync.io.report import Report

__all__ = ["open_gate"]


async def open_gate(
    store: BlobStore,
    curation: CurationConfig | None,
    waivers: Sequence[Waiver],
    *,
    now: dt.datetime,
    report: Report,
    refresh: bool,
    client: httpx.AsyncClient | None = None,
) -> Gate | None:
    """The gate for this run, or None when there is no database (see the module docstring)."""
    if curation is None:
        return None
    database, failure = None, None
    if refresh and curation.osv_url and client is not None:
        try:
            database = await refresh_database(store, curation.osv_url, client)
        except MirrorError as e:
            failure = str(e)
    if database is None:
        stored = await read_database(store)
        database = stored[0] if stored else None
    if failure is not None:
        (report.notes if database else report.failed).append(failure)
    if database is None:
        if curation.osv_url and failure is None:
            report.notes.append("no OSV database yet: the advisory gate is off for this run")
        return None
    return Gate(database, curation.block_severity, tuple(waivers), now.date())
