"""Request ids and the access log: every request gets an id (the client's ``X-Request-Id``
when it is a sane token, else a new one), answered in ``X-Request-Id`` and set in
``logfmt.REQUEST_ID`` so every line logged while answering it carries the id; one access
line per request on ``blobpi.access`` (method, path, status, bytes, milliseconds).

The logged path has no query string (a SAS or a token must never reach a log)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blobpi.mirror.core.logfmt import REQUEST_ID

__all__ = ["RequestLogMiddleware", "request_id"]

_ACCESS = logging.getLogger("blobpi.access")
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(sent: str | None) -> str:
    """The client's id when it is a short plain token, else a new random one.

    >>> request_id("abc-123"), len(request_id("bad id\\nforged line"))
    ('abc-123', 16)
    """
    return sent if sent and _SANE.fullmatch(sent) else uuid.uuid4().hex[:16]


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log  # BLOBPI_ACCESS_LOG; request ids are always set

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(Headers(scope=scope).get("x-request-id"))
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status, sent = 500, 0

        async def tagged_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        finally:
            if self.access_log and _ACCESS.isEnabledFor(logging.INFO):
                millis = round((time.perf_counter() - started) * 1000, 2)
                # No query string (never a credential in a log); escaped, so a path with a
                # newline cannot forge a second line of the readable format.
                path = scope["path"][:300].encode("unicode_escape").decode("ascii")
                _ACCESS.info(
                    "%s %s %s %dB %.1fms",
                    scope["method"][:16],
                    path,
                    status,
                    sent,
                    millis,
                    extra={
                        "fields": {
                            "method": scope["method"][:16],
                            "path": path,
                            "status": status,
                            "bytes": sent,
                            "ms": millis,
                        }
                    },
                )
            REQUEST_ID.reset(token)
