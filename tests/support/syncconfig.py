"""The ``SyncConfig`` a test's sync runs with: it mirrors a local upstream, for the Pythons
the test wheels are built for, with retries fast enough that a fault costs milliseconds, not
the production back-off's seconds."""

from __future__ import annotations

import dataclasses
from typing import Any

from blobpi.mirror.core.settings import Filters, SyncConfig
from tests.support.upstream import LocalUpstream

__all__ = ["sync_config"]


def sync_config(
    upstream: LocalUpstream, /, *, pythons: tuple[str, ...] = ("3.12",), **changes: Any
) -> SyncConfig:
    """A config for ``upstream``: one try and two retries of a second each, 10 ms apart,
    unless ``changes`` (any ``SyncConfig`` fields, ``upstream`` too: a URL with credentials,
    say) say otherwise."""
    base = SyncConfig(
        upstream=upstream.index_url,
        filters=Filters(python_versions=pythons),
        timeout=1.0,
        retries=2,
        backoff=0.01,
    )
    return dataclasses.replace(base, **changes)
