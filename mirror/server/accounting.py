"""Every request's accounting, in one layer outermost: its id, its metrics and its access line.

The id is the client's ``X-Request-Id`` when it is a sane token, else a new one; it is
answered in ``X-Request-Id`` and set in ``logfmt.REQUEST_ID``, so every line logged while
answering carries it. Each request is counted in ``Metrics`` (route template, method, status,
seconds, body bytes) and, with ``BLOBPI_ACCESS_LOG``, gets one line on ``blobpi.access``
(method, path, status, bytes, milliseconds). The logged path has no query string (a SAS or a
token must never reach a log).

One layer and one wrapped ``send`` for all three, because they watch the same things (the
status, the bytes, the time) and a cached page costs tens of microseconds in all: two
layers cost it a tenth more, and a random id per request (``uuid4``) a tenth again.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blobpi.mirror.core.logfmt import REQUEST_ID
from blobpi.mirror.server.metrics import Metrics, method_label, route_label

__all__ = ["RequestAccounting", "request_id"]

_ACCESS = logging.getLogger("blobpi.access")
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# New ids: this process's random prefix, then a sequence number (16 hex digits in all). Unique
# within a process, and across processes and replicas but for a 32-bit chance; not secret.
_PROCESS = secrets.token_hex(4)
_SEQUENCE = itertools.count()


def request_id(sent: str | bytes | None) -> str:
    """The client's id when it is a short plain token, else a new one.

    >>> request_id("abc-123"), len(request_id("bad id\\nforged line"))
    ('abc-123', 16)
    >>> request_id(None) != request_id(None)
    True
    """
    if isinstance(sent, bytes):
        sent = sent.decode("latin-1")
    if sent and _SANE.fullmatch(sent):
        return sent
    return f"{_PROCESS}{next(_SEQUENCE) & 0xFFFFFFFF:08x}"


def _sent_id(scope: Scope) -> bytes | None:
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            return value  # type: ignore[no-any-return]
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    for key, value in headers:
        if key.lower() == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class RequestAccounting:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log  # BLOBPI_ACCESS_LOG; ids and metrics are always kept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(_sent_id(scope))
        tagged = (b"x-request-id", rid.encode())
        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status, sent = 500, 0
        headers: list[tuple[bytes, bytes]] = []

        async def accounted_send(message: Message) -> None:
            nonlocal status, sent, headers
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                headers = message["headers"] = [*message.get("headers", ()), tagged]
            elif kind == "http.response.pathsend":  # the server sends the file: its length
                sent += _content_length(headers)
            await send(message)

        try:
            await self.app(scope, receive, accounted_send)
        finally:
            seconds = time.perf_counter() - started
            self.metrics.observe(route_label(scope), method_label(scope), status, seconds, sent)
            if self.access_log and _ACCESS.isEnabledFor(logging.INFO):
                _log_access(scope, status, sent, seconds)
            REQUEST_ID.reset(token)


def _log_access(scope: Scope, status: int, sent: int, seconds: float) -> None:
    millis = round(seconds * 1000, 2)
    # No query string (never a credential in a log); escaped, so a path with a newline
    # cannot forge a second line of the readable format.
    path = scope["path"][:300].encode("unicode_escape").decode("ascii")
    method = scope["method"][:16]
    _ACCESS.info(
        "%s %s %s %dB %.1fms",
        method,
        path,
        status,
        sent,
        millis,
        extra={
            "fields": {
                "method": method,
                "path": path,
                "status": status,
                "bytes": sent,
                "ms": millis,
            }
        },
    )
