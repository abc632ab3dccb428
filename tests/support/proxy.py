"""A local TLS-inspecting proxy, as companies put between a sync job and the internet.

It answers ``CONNECT host:port``, then terminates the client's TLS with a certificate for
that host signed by its own private CA (``trustme``), opens its own TLS connection to the
real host (trusting only ``upstream_trust``) and relays the decrypted bytes both ways,
recording each request line it reads in clear, which is what inspection means. A client
that does not trust the private CA fails its handshake, as it would at work.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import trustme

__all__ = ["InspectingProxy"]

_REQUEST_LINE_RE = re.compile(rb"^(GET|HEAD|POST) (\S+) HTTP/1\.[01]\r$", re.MULTILINE)


class InspectingProxy:
    """Use ``with InspectingProxy.start(trust) as proxy:``; ``proxy.url`` is the proxy."""

    def __init__(self, upstream_trust: ssl.SSLContext, ca_dir: Path) -> None:
        self.ca = trustme.CA(organization_name="blobpi test corp inspection CA")
        self.ca_file = ca_dir / "corp-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.upstream_trust = upstream_trust
        self.tunnels: list[str] = []  # host:port of every CONNECT
        self.seen: list[str] = []  # request paths read in clear inside the tunnels
        self.port = 0
        self._lock = threading.Lock()
        self._contexts: dict[str, ssl.SSLContext] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return self._contexts[host]

    def _record(self, data: bytes) -> None:
        with self._lock:
            self.seen += [m[2].decode() for m in _REQUEST_LINE_RE.finditer(data)]

    def _pump(self, source: socket.socket, sink: socket.socket, inspect: bool) -> None:
        try:
            while data := source.recv(65536):
                if inspect:
                    self._record(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _handle(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            match = re.match(rb"CONNECT ([^\s:]+):(\d+) HTTP/1\.[01]\r\n", head)
            if match is None:
                client.sendall(b"HTTP/1.1 405 CONNECT only\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = match[1].decode(), int(match[2])
            with self._lock:
                self.tunnels.append(f"{host}:{port}")
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                inner = self._context_for(host).wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):
                return  # the client did not trust our CA: it hangs up, as it should
            raw = socket.create_connection((host, port), timeout=30)
            outer = self.upstream_trust.wrap_socket(raw, server_hostname=host)
            with inner, outer:
                back = threading.Thread(target=self._pump, args=(outer, inner, False))
                back.start()
                self._pump(inner, outer, True)
                back.join()

    @classmethod
    @contextlib.contextmanager
    def start(cls, upstream_trust: ssl.SSLContext, ca_dir: Path) -> Iterator[InspectingProxy]:
        proxy = cls(upstream_trust, ca_dir)
        listener = socket.create_server(("127.0.0.1", 0))
        proxy.port = listener.getsockname()[1]
        stopping = threading.Event()

        def _accept() -> None:
            while not stopping.is_set():
                try:
                    client, _ = listener.accept()
                except OSError:
                    return
                threading.Thread(target=proxy._handle, args=(client,), daemon=True).start()

        thread = threading.Thread(target=_accept, daemon=True)
        thread.start()
        try:
            yield proxy
        finally:
            stopping.set()
            listener.close()
            thread.join(timeout=5)
