"""A recording TCP relay in front of Azurite: every byte clients send to the blob service
passes through it and is kept, so a test can assert what reached the blob host (a SAS, and
never the index's token)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

__all__ = ["Relay"]


class Relay:
    """``with Relay.start(target_port) as relay:``; ``relay.port`` forwards to the target."""

    def __init__(self, listener: socket.socket, target: int) -> None:
        self._listener = listener
        self._target = target
        self._lock = threading.Lock()
        self._sent = bytearray()
        self._sockets: list[socket.socket] = []
        self.port = int(listener.getsockname()[1])

    @property
    def sent(self) -> bytes:
        """Everything clients have sent so far, all connections in arrival order."""
        with self._lock:
            return bytes(self._sent)

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record:
                    with self._lock:
                        self._sent += data
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed: the relay is stopping
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._sockets += [client, upstream]
            for args in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    @classmethod
    @contextlib.contextmanager
    def start(cls, target: int) -> Iterator[Relay]:
        listener = socket.create_server(("127.0.0.1", 0))
        relay = cls(listener, target)
        thread = threading.Thread(target=relay._serve, daemon=True)
        thread.start()
        try:
            yield relay
        finally:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            listener.close()
            thread.join(timeout=5)
            for sock in relay._sockets:
                sock.close()
