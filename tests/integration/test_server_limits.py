"""Limits a real ``blobpi serve`` keeps against hostile clients: who may set the client
address (X-Forwarded-For only from ``BLOBPI_TRUSTED_PROXIES``), and how long a request's
headers and body may take (``BLOBPI_HEADER_TIMEOUT``, ``BLOBPI_BODY_TIMEOUT``)."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from blobpi.mirror.ops.tokens import TokenFile, new_token
from blobpi.mirror.store.local import LocalStore
from tests.support.processes import Server, free_port

pytestmark = pytest.mark.slow


def _upload_token(storage: Path) -> str:
    secret, record = new_token("ci", "upload", now=dt.datetime.now(dt.UTC))

    async def _add() -> None:
        store = LocalStore(storage)
        await store.ensure()
        await TokenFile(store, "state/tokens.json").update(lambda ts: {**ts, record.id: record})

    anyio.run(_add)
    return secret


@pytest.fixture(params=["granian", "uvicorn"])
def stack(request: pytest.FixtureRequest) -> str:
    """Both server stacks keep the same limits (`blobpi serve --server`)."""
    return str(request.param)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def _server(storage: Path, tmp: Path, stack: str, **env: str) -> Iterator[Server]:
    base = {
        "BLOBPI_ANONYMOUS_READ": "false",
        "BLOBPI_AUTH_FAILURE_LIMIT": "3",
        "BLOBPI_HTTP_SERVER": stack,
    }
    with Server.start(str(storage), {**base, **env}, tmp) as server:
        yield server


def _statuses(server: Server, spoofed: bool) -> list[int]:
    statuses = []
    for i in range(6):
        headers = {"X-Forwarded-For": f"203.0.113.{i}"} if spoofed else {}
        response = httpx.get(
            f"{server.url}/simple/", auth=("__token__", "bpi_wrong"), headers=headers
        )
        statuses.append(response.status_code)
    return statuses


def test_limits__x_forwarded_for_from_loopback_is_not_trusted(
    storage: Path, tmp_path: Path, stack: str
) -> None:
    """Issue 10, defect 14: a local caller cannot pick a new address per guess."""
    for server in _server(storage, tmp_path, stack):
        assert _statuses(server, spoofed=True) == [401, 401, 401, 429, 429, 429]


def test_limits__x_forwarded_for_from_a_trusted_proxy_names_the_client(
    storage: Path, tmp_path: Path, stack: str
) -> None:
    for server in _server(storage, tmp_path, stack, BLOBPI_TRUSTED_PROXIES="127.0.0.1"):
        assert _statuses(server, spoofed=True) == [401] * 6  # one address each


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it was still open after ``seconds``."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return None
    return received


def test_limits__slow_headers_are_cut_off(storage: Path, tmp_path: Path, stack: str) -> None:
    """Issue 10, defect 15: a connection that never finishes its headers is closed."""
    for server in _server(storage, tmp_path, stack, BLOBPI_HEADER_TIMEOUT="1"):
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as silent:
            with socket.create_connection(("127.0.0.1", port)) as slow:
                slow.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                started = time.monotonic()
                assert _closed_within(slow, 10) == b""
                if stack == "uvicorn":  # the default: granian's timer starts at the first byte
                    assert _closed_within(silent, 10) == b""
                assert time.monotonic() - started < 9
        # A prompt client on a kept-alive connection is served as before.
        with httpx.Client() as client:
            for _ in range(3):
                assert client.get(f"{server.url}/health").status_code == 200


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_limits__both_uvicorn_parsers_cut_off_slow_headers(parser: str) -> None:
    """uvicorn parses with httptools when the ``uvicorn`` extra is installed, else with h11:
    the header deadline holds on both, mid-request and on a connection that never spoke."""
    import threading

    import uvicorn

    from blobpi.mirror.server import timeouts

    protocol = (
        timeouts.header_deadline_protocol(1.0)
        if parser == "httptools"
        else type("H11Deadline", (timeouts._H11HeaderDeadline,), {"header_timeout": 1.0})
    )
    assert (parser == "httptools") == ("HttpTools" in str(protocol.__mro__))

    async def app(scope: dict[str, object], receive: object, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    config = uvicorn.Config(app, port=port, http=protocol, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port)) as silent:
            with socket.create_connection(("127.0.0.1", port)) as slow:
                slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                assert _closed_within(slow, 10) == b""
                assert _closed_within(silent, 10) == b""
        with httpx.Client() as client:  # prompt heads on a kept-alive connection
            for _ in range(3):
                assert client.get(f"http://127.0.0.1:{port}/").text == "ok"
                time.sleep(1.2)  # idle past the deadline between requests: still served
    finally:
        server.should_exit = True
        thread.join(10)


def test_limits__a_stalled_body_is_answered_408(storage: Path, tmp_path: Path, stack: str) -> None:
    token = _upload_token(storage)
    for server in _server(storage, tmp_path, stack, BLOBPI_BODY_TIMEOUT="1"):
        port = int(server.url.rsplit(":", 1)[1])
        credentials = base64.b64encode(f"__token__:{token}".encode()).decode()
        head = (
            "POST / HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Basic {credentials}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head.encode() + b"--b\r\n")
            answer = _closed_within(sock, 10)
        assert answer is not None and answer.startswith(b"HTTP/1.1 408 "), answer
        assert b"paused for more than 1 s" in answer
