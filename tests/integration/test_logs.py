"""Logs: JSON lines off a terminal, readable lines on one; every request's lines carry its
request id (also answered in ``X-Request-Id``); the access line never holds a query string."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from blobpi.mirror.cli.logs import configure_logging
from blobpi.mirror.core.settings import ServerSettings, Settings
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.local import LocalStore
from tests.unit.test_progress import read_all


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()  # not a terminal: JSON lines
    configure_logging(0, stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("blobpi").setLevel(logging.NOTSET)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_logs__json_access_lines_with_request_ids(tmp_path: object, captured: io.StringIO) -> None:
    settings = Settings(storage="unused", server=ServerSettings(page_ttl=0))
    app = create_app(settings, store=LocalStore(f"{tmp_path}/data"))
    with TestClient(app) as client:
        given = client.get("/simple/?token=SECRET", headers={"X-Request-Id": "req-42"})
        made = client.get("/health/live", headers={"X-Request-Id": "bad id\nforged"})
    assert given.headers["x-request-id"] == "req-42"
    fresh = made.headers["x-request-id"]
    assert fresh != "bad id\nforged" and len(fresh) == 16
    access = [line for line in _lines(captured) if line["logger"] == "blobpi.access"]
    assert access[0] | {"time": "", "ms": 0} == {
        "time": "",
        "level": "info",
        "logger": "blobpi.access",
        "message": access[0]["message"],
        "request_id": "req-42",
        "method": "GET",
        "path": "/simple/",
        "status": 200,
        "bytes": given.num_bytes_downloaded,
        "ms": 0,
    }
    assert access[1]["request_id"] == fresh and access[1]["path"] == "/health/live"
    ours = [line for line in _lines(captured) if str(line["logger"]).startswith("blobpi")]
    assert ours and "SECRET" not in json.dumps(ours)  # (the test client logs its own URLs)


def test_logs__only_lines_logged_while_answering_carry_its_id(
    tmp_path: object, captured: io.StringIO
) -> None:
    settings = Settings(storage="unused", server=ServerSettings(page_ttl=0))
    app = create_app(settings, store=LocalStore(f"{tmp_path}/data"))
    logging.getLogger("blobpi.test").info("outside any request")
    with TestClient(app) as client:
        client.get("/simple/x/", headers={"X-Request-Id": "r1"})
    lines = [line for line in _lines(captured) if str(line["logger"]).startswith("blobpi")]
    assert lines[0]["message"] == "outside any request" and "request_id" not in lines[0]
    assert [line["request_id"] for line in lines[1:]] == ["r1"]


def test_logs__readable_lines_on_a_terminal() -> None:
    leader, follower = os.openpty()
    root = logging.getLogger()
    saved = root.handlers[:]
    with os.fdopen(follower, "w") as tty:
        try:
            configure_logging(1, tty)
            logging.getLogger("blobpi.sync").debug("alpha: unchanged (304)")
            logging.getLogger("httpx").debug("a library's debug line")
            tty.flush()
        finally:
            root.handlers[:] = saved
            logging.getLogger("blobpi").setLevel(logging.NOTSET)
            for name in ("azure", "httpx", "httpcore", "aiohttp", "uvicorn.access"):
                logging.getLogger(name).setLevel(logging.NOTSET)
    text = read_all(leader)
    assert "debug   blobpi.sync: alpha: unchanged (304)" in text  # -v: blobpi's decisions
    assert "a library's debug line" not in text  # only -vv shows the libraries'
    assert not text.lstrip().startswith("{")
