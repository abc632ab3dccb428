"""Downloads by redirect (``BLOBPI_DOWNLOADS=redirect``): a ``/packages/`` GET or HEAD that
passed the auth check is answered ``307`` to a read-only SAS URL for that one blob, on the
store's own blob endpoint, so the bytes go from the blob service to the client directly
(with ``Range``, which the blob service answers) and the server only signs.

- **307, not 302.** For GET and HEAD both are followed by pip (requests), uv and curl, but
  only 307 forbids a client to change the method (RFC 9110 15.4.8): a HEAD stays a HEAD.
  Both are cacheable only with explicit freshness, which the redirect carries.
- **No HEAD per request.** The route asks the ``HeadCache`` first, as a streamed download
  does: a missing blob is a 404 and never a redirect, and a file is at most ``page_ttl``
  seconds of cache away from the store (files are immutable; a prune deletes one only hours
  after its last page stopped linking it).
- **No signing per request.** A URL is signed once per (blob, expiry bucket)
  (``core/expiry.py``); the signer (an account key, or a user delegation key fetched once
  per bucket) is kept for its bucket. ``Cache-Control`` ends a minute before the SAS does.
- **The URL is a credential.** It is sent in ``Location`` only: the access log has no query
  strings and no headers, errors and metric labels never hold it. Clients drop the index's
  ``Authorization`` on the cross-origin hop; the SAS alone grants read of that one blob.
- If signing fails (the identity lost ``Storage Blob Delegator``), downloads are streamed
  instead and a warning names the fix, once per bucket.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from starlette.responses import Response

from blobpi.mirror.core.errors import ConfigError, MirrorError
from blobpi.mirror.core.expiry import bucketed_window
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.signing import Signer, signer_for, signing_problem

__all__ = ["ReadUrls", "check_downloads", "redirect_response"]

_log = logging.getLogger("blobpi.server")
_MAX_URLS = 100_000  # per bucket; then the dict starts over (a bound, not a working set)
_MARGIN = 60  # seconds: a cached redirect ends this long before its SAS does (clock skew)


def check_downloads(settings: Settings, store: BlobStore) -> None:
    """A ``ConfigError`` at start-up when redirects are asked for on a store that cannot
    sign (a directory; a credential that is itself a SAS), naming the fix."""
    if settings.server.downloads != "redirect":
        return
    problem = signing_problem(store, settings.storage_connection_string)
    if problem:
        raise ConfigError(
            f"BLOBPI_DOWNLOADS=redirect needs signed blob URLs, but {problem}: serve a "
            "container URL, or set BLOBPI_DOWNLOADS=stream (the default)"
        )


class ReadUrls:
    """Signed read URLs of the store's blobs, one per (blob, bucket)."""

    def __init__(
        self,
        store: BlobStore,
        connection_string: str | None,
        lifetime: dt.timedelta,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store, self._key, self._lifetime, self._clock = (
            store,
            connection_string,
            lifetime,
            clock,
        )
        self._expiry: dt.datetime | None = None  # the bucket the caches below are for
        self._signer: Signer | None = None
        self._urls: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def url(self, path: str) -> tuple[str, int] | None:
        """The signed URL of ``path`` and for how many seconds a client may reuse it, or
        None when no signer can be had this bucket (the caller streams)."""
        now = self._clock()
        _, expiry = bucketed_window(now, self._lifetime)
        if expiry != self._expiry:
            await self._new_bucket(now, expiry)
        url = self._urls.get(path)
        if url is None:
            if self._signer is None:
                return None
            if len(self._urls) >= _MAX_URLS:
                self._urls.clear()
            url = self._urls[path] = self._signer.blob_url(path, expiry)
        return url, max(0, int((expiry - now).total_seconds()) - _MARGIN)

    async def _new_bucket(self, now: dt.datetime, expiry: dt.datetime) -> None:
        async with self._lock:  # one signer per bucket, however many requests wait
            if expiry == self._expiry:
                return
            signer: Signer | None = None
            try:
                signer, _ = await signer_for(self._store, self._key, now, self._lifetime)
            except MirrorError as e:
                _log.warning("download redirects off until %s, streaming: %s", expiry, e)
            self._expiry, self._signer, self._urls = expiry, signer, {}


def redirect_response(url: str, max_age: int, anonymous: bool) -> Response:
    """The ``307``; shared caches keep nothing that needed a token (a SAS least of all)."""
    cache = f"max-age={max_age}" if anonymous else f"private, max-age={max_age}"
    return Response(status_code=307, headers={"Location": url, "Cache-Control": cache})
