"""Time limits on what clients send: a request's headers, and the pauses in its body.

A client that opens connections and sends a request slowly (slow headers, a body that
trickles) would otherwise hold a connection and its memory forever. Two limits, from
``BLOBPI_HEADER_TIMEOUT`` and ``BLOBPI_BODY_TIMEOUT``:

- ``header_deadline_protocol``: uvicorn's h11 protocol, closing a connection whose request
  headers are not complete within the limit of its first byte (or of the connection);
  idle keep-alive connections are uvicorn's ``timeout_keep_alive``.
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


class _HeaderDeadline(H11Protocol):
    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        """Armed while the peer is sending a request's head; cancelled once it is complete."""
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout, self._expire)
        else:
            self._cancel_header_timer()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        # IDLE: no request of this connection is in progress, so no response is cut short.
        if self.conn.their_state is h11.IDLE:
            self.transport.close()


def header_deadline_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's ``http=`` protocol class with the header limit set."""
    return type("HeaderDeadlineProtocol", (_HeaderDeadline,), {"header_timeout": seconds})


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
