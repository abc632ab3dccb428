"""Time limits on what clients send: a request's headers, and the pauses in its body.

A client that opens connections and sends a request slowly (slow headers, a body that
trickles) would otherwise hold a connection and its memory forever. Two limits, from
``BLOBPI_HEADER_TIMEOUT`` and ``BLOBPI_BODY_TIMEOUT``:

- ``header_deadline_protocol``: uvicorn's HTTP protocol (httptools, or h11 without it),
  closing a connection whose request headers are not complete within the limit of its
  first byte (or of the connection); idle keep-alive connections are uvicorn's
  ``timeout_keep_alive``.
- ``BodyTimeoutMiddleware``: each body chunk must arrive within the limit of the previous
  one, and the whole body at ``MIN_BODY_RATE`` on average, else ``RequestTimeout`` (408).
  Once the body is complete, ``receive`` waits as long as the server needs (a streamed
  response waits on it for the disconnect).
"""

from __future__ import annotations

import asyncio
import time

import anyio
import h11
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from blobpi.mirror.core.errors import RequestTimeout
from blobpi.mirror.core.http import content_length

__all__ = ["MIN_BODY_RATE", "BodyTimeoutMiddleware", "header_deadline_protocol"]

MIN_BODY_RATE = 64 * 1024  # bytes per second a declared body must average, after the slack


class _HeaderDeadline(asyncio.Protocol):
    """Mixed in before a uvicorn HTTP protocol: a timer armed while the peer owes a request's
    head (from the connection, or from the first byte of a request), cancelled once it is
    complete; the subclass says when a head is owed (``_owes_head``).

    Checked after each ``data_received``, not per parser callback, so a head that arrives in
    one piece (nearly all) arms nothing."""

    header_timeout = 10.0
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    _header_timer: asyncio.TimerHandle | None

    def _owes_head(self) -> bool:
        raise NotImplementedError

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._header_timer = None
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        if self._owes_head() and not self.transport.is_closing():
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout, self._expire)
        elif self._header_timer is not None:
            self._cancel_header_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        # Still owed: no request of this connection is in progress, so no answer is cut short.
        if self._owes_head():
            self.transport.close()


class _H11HeaderDeadline(_HeaderDeadline, H11Protocol):
    """h11 (pure Python): between requests its peer state is IDLE."""

    def _owes_head(self) -> bool:
        return self.conn.their_state is h11.IDLE


def _httptools_protocol() -> type[asyncio.Protocol] | None:
    """The deadline on uvicorn's httptools protocol (about 5x less CPU per request than h11),
    or None where httptools is missing (a platform without its wheel: then h11)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None

    class _HttpToolsHeaderDeadline(_HeaderDeadline, HttpToolsProtocol):
        """httptools: a head is owed from the connection, and from each request's first byte
        (``on_message_begin``) until ``on_headers_complete``."""

        _head_owed = True

        def _owes_head(self) -> bool:
            return self._head_owed

        def on_message_begin(self) -> None:
            self._head_owed = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._head_owed = False
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            # Idle between requests: uvicorn's keep-alive timeout closes the connection then.
            self._head_owed = False
            super().on_response_complete()

    return _HttpToolsHeaderDeadline


def header_deadline_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's ``http=`` protocol class with the header limit set: httptools when it is
    installed, else h11."""
    base = _httptools_protocol() or _H11HeaderDeadline
    return type("HeaderDeadlineProtocol", (base,), {"header_timeout": seconds})


class BodyTimeoutMiddleware:
    """Pure ASGI middleware: bounds the wait for each chunk of a request body."""

    def __init__(self, app: ASGIApp, seconds: float, min_rate: float = MIN_BODY_RATE) -> None:
        self.app, self.seconds, self.min_rate = app, seconds, min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = content_length(Headers(scope=scope).get("content-length")) or 0
        deadline = time.monotonic() + self.seconds + size / self.min_rate
        done = False

        async def _receive() -> Message:
            nonlocal done
            if done:
                return await receive()
            wait = min(self.seconds, deadline - time.monotonic())
            with anyio.move_on_after(max(0.0, wait)) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                raise RequestTimeout(
                    f"the request body paused for more than {self.seconds:g} s, or arrived "
                    f"slower than {self.min_rate // 1024:.0f} KiB/s: send it again"
                )
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        # Raised where the route reads the body, so the app's error table answers it (408).
        await self.app(scope, _receive, send)
