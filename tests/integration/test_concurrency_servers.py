"""Several ``blobpi serve`` processes on one store (local directory, Azurite container) while
pages change: racing uploads of one filename through different servers, and readers on every
server. Each reader sees an old or a new page, never a torn one (a filename listed with two
hashes, HTML and JSON disagreeing) and never a listed file that is missing or has other
bytes. The figures it prints are quoted in docs/guarantees.md."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import random
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from blobpi.mirror.ops.tokens import TokenFile, new_token
from tests.conftest import StoreSpec
from tests.support.dists import build_wheel
from tests.support.processes import Server

pytestmark = pytest.mark.slow
SERVERS = 3
READERS = 4
ROUNDS = 10
_JSON = "application/vnd.pypi.simple.v1+json"
_HREF = re.compile(r'href="([^"#]+)#sha256=([0-9a-f]{64})"[^>]*>([^<]+)</a>')


class Observer:
    """What readers saw: every (filename -> sha256) must be one value, forever."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, str] = {}
        self.problems: list[str] = []
        self.pages = self.files = 0

    def saw(self, filename: str, sha256: str, where: str) -> None:
        with self.lock:
            first = self.seen.setdefault(filename, sha256)
            if first != sha256:
                self.problems.append(f"torn: {filename} listed as {first} and {sha256} ({where})")

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)


def _listing(response: httpx.Response) -> dict[str, tuple[str, str]]:
    """filename -> (url, sha256) of one project page, JSON or HTML."""
    if response.headers["content-type"].startswith(_JSON):
        return {f["filename"]: (f["url"], f["hashes"]["sha256"]) for f in response.json()["files"]}
    return {m[3]: (m[1], m[2]) for m in _HREF.finditer(response.text)}


def _read(servers: list[Server], observer: Observer, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            server = rng.choice(servers)
            accept = rng.choice([_JSON, "text/html"])
            page_url = f"{server.url}/simple/racer/"
            response = http.get(page_url, headers={"Accept": accept})
            if response.status_code == 404:
                continue  # no upload has won yet: the old state
            if response.status_code != 200:
                observer.problem(f"{page_url}: {response.status_code}")
                continue
            with observer.lock:
                observer.pages += 1
            files = _listing(response)
            for filename, (_, sha256) in files.items():
                observer.saw(filename, sha256, f"{accept} from {server.url}")
            if not files:
                continue
            filename, (url, sha256) = rng.choice(sorted(files.items()))
            other = rng.choice(servers)  # a file listed by one server is served by all
            download = http.get(str(httpx.URL(f"{other.url}/simple/racer/").join(url)))
            with observer.lock:
                observer.files += 1
            if download.status_code != 200:
                observer.problem(
                    f"{filename} listed, but {other.url} answers {download.status_code}"
                )
            elif hashlib.sha256(download.content).hexdigest() != sha256:
                observer.problem(f"{filename}: served bytes differ from the listed sha256")


def _upload(server: Server, token: str, wheel: Path, filename: str, out: list[int]) -> None:
    response = httpx.post(
        f"{server.url}/",
        auth=("__token__", token),
        data={":action": "file_upload", "protocol_version": "1"},
        files={"content": (filename, wheel.read_bytes())},
        timeout=60,
    )
    out.append(response.status_code)


@pytest.fixture
def servers(store_spec: StoreSpec, tmp_path: Path) -> Iterator[tuple[list[Server], str]]:
    secret, record = new_token("racer", "upload", now=dt.datetime.now(dt.UTC))

    async def _token() -> None:
        async with store_spec.open() as store:
            await store.ensure()
            await TokenFile(store, "state/tokens.json").update(lambda ts: {record.id: record})

    anyio.run(_token)
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(Server.start(store_spec.spec, store_spec.environ, tmp_path))
            for _ in range(SERVERS)
        ]
        yield started, secret


def test_servers__racing_uploads_and_readers_on_every_server(
    servers: tuple[list[Server], str], tmp_path: Path
) -> None:
    running, token = servers
    observer = Observer()
    stop = threading.Event()
    readers = [
        threading.Thread(target=_read, args=(running, observer, stop, seed))
        for seed in range(READERS)
    ]
    for reader in readers:
        reader.start()
    outcomes: list[list[int]] = []
    try:
        for round_ in range(ROUNDS):
            filename = f"racer-1.{round_}-py3-none-any.whl"
            wheels = [
                build_wheel(tmp_path / f"{round_}-{i}", "racer", f"1.{round_}", requires=[f"d{i}"])
                for i in range(2)
            ]
            statuses: list[int] = []
            uploaders = [
                threading.Thread(
                    target=_upload, args=(running[i], token, wheels[i], filename, statuses)
                )
                for i in range(2)
            ]
            for uploader in uploaders:
                uploader.start()
            for uploader in uploaders:
                uploader.join()
            outcomes.append(sorted(statuses))
        # The last round's page reaches every server within BLOBPI_PAGE_TTL: readers go on
        # until they have seen it (stopping them at once lost it on a busy machine).
        deadline = time.monotonic() + 10
        while len(observer.seen) < ROUNDS and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert outcomes == [[200, 409]] * ROUNDS  # one winner per round, through either server
    assert observer.problems == []
    assert len(observer.seen) == ROUNDS and observer.pages > 0 and observer.files > 0
    print(
        f"\n{SERVERS} servers, {ROUNDS} rounds raced, {observer.pages} pages and "
        f"{observer.files} downloads checked, 0 torn or missing"
    )
