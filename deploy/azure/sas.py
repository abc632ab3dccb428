"""Blob-URL mode: pinned requirements as direct URLs to the container's files, each with a
read-only SAS and ``#sha256=`` (which pip verifies), as ``add_private_pip_wheel`` gave in
SDK v1 for one wheel, here for any file in the mirror.

Signing is the store's (``mirror/store/signing.py``: a user delegation key in production, an
account key for Azurite), shared with the server's download redirects. The expiry is
bucketed (``mirror/core/expiry.py``), so calls within one bucket print byte-identical URLs
and an environment built from them does not change version on every run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from blobpi.deploy.core.requirements import PinnedRequirement
from blobpi.deploy.core.targets import Target, choose_wheel
from blobpi.mirror.core.durations import parse_duration
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.expiry import MAX_LIFETIME
from blobpi.mirror.core.model import File
from blobpi.mirror.store.pages import read_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.signing import Signer, signer_for

__all__ = ["parse_lifetime", "url_line", "wheel_urls"]


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


def url_line(
    name: str, file: File, signer: Signer, expiry: dt.datetime, extras: Sequence[str] = ()
) -> str:
    """``name @ URL#sha256=...``: a PEP 508 direct reference pip installs and checks."""
    if file.blob_path is None or file.sha256 is None:
        raise ConfigError(f"{file.filename} is not stored in the container with a sha256")
    extra = f"[{','.join(extras)}]" if extras else ""
    return f"{name}{extra} @ {signer.url(file.blob_path, file.sha256, expiry)}"


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
