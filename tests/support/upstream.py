"""A real local upstream index for the sync tests: an HTTP server on a loopback port over
wheels and sdists that the tests build (tests/support/dists.py).

It speaks PEP 691 JSON and PEP 503 HTML (by ``Accept``), with optional ``ETag``/304,
``X-PyPI-Last-Serial``, PEP 658 ``.metadata`` files and ``core-metadata`` keys, yanked files,
files under the public index's ``packages/xx/yy/<hex>/`` shape or elsewhere, and fault
injection (``fail``), one fault per request, in order:

- ``500``, ``403``, ``429`` (with ``Retry-After: 0``): that status instead of the answer;
- ``slow``: the answer after ``slow_seconds``; ``drip``: the body at ``DRIP_RATE`` bytes/s;
- ``truncate``: the connection dropped mid-body; ``length``: a ``Content-Length`` shorter
  than the body; ``corrupt``: other bytes than the listed hash (a flipped first byte);
- ``malformed``: a page cut in half; ``huge``: a page that gzip-inflates to ``HUGE_BYTES``;
  ``garbled``: a page that says ``Content-Encoding: gzip`` but is not;
- ``loop``: a redirect to itself; ``foreign``: a redirect to ``foreign_url`` (another host).

Hostile content: a file listed under another host or a bad URL (``Dist.url``), a provenance
on another host, a ``.metadata`` that differs from the wheel's own, another project's file on
a page (``planted``), and basic auth (``auth``) to test that credentials stay in the request.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import hashlib
import html
import json
import re
import ssl
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from packaging.utils import canonicalize_name

from blobpi.mirror.core.distribution import inspect_distribution
from blobpi.mirror.core.names import parse_distribution_filename

Fault = Literal[
    "500",
    "403",
    "429",
    "slow",
    "drip",
    "truncate",
    "length",
    "corrupt",
    "malformed",
    "huge",
    "garbled",
    "loop",
    "foreign",
]
DRIP_RATE = 2048  # bytes/s: far under the client's minimum rate
HUGE_BYTES = 300 * 1024 * 1024  # what the ``huge`` page inflates to


_BOMB: list[tuple[bytes, zlib._Compress]] = []  # the compressed padding and the compressor after it


def _gzip_bomb(body: bytes) -> bytes:
    """``HUGE_BYTES`` of spaces then ``body`` (JSON may start with whitespace), gzipped:
    about 300 KB on the wire. The padding is compressed once per process."""
    if not _BOMB:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = b" " * (1 << 20)
        head = b"".join(compressor.compress(block) for _ in range(HUGE_BYTES >> 20))
        _BOMB.append((head, compressor))
    head, compressor = _BOMB[0]
    tail = compressor.copy()
    return head + tail.compress(body) + tail.flush()


@dataclasses.dataclass
class Dist:
    path: Path
    sha256: str
    size: int
    url_path: str
    yanked: bool | str = False
    metadata: bytes | None = None  # served as <file>.metadata when set
    upload_time: dt.datetime = dataclasses.field(
        default_factory=lambda: dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    )
    requires_python: str | None = None
    provenance: bytes | None = None  # PEP 740, served as <file>.provenance when set
    url: str | None = None  # the URL the pages list, when not the relative default
    provenance_url: str | None = None  # the provenance URL the pages list, when not beside

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def pin(self) -> str:
        """The hashed lock line that pins this file: ``name==version --hash=sha256:...``."""
        dist = parse_distribution_filename(self.filename)
        return f"{dist.name}=={dist.version} --hash=sha256:{self.sha256}"


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connection attempts of a client that opens
    # 8 at once; the kernel then retries after a second, which would time the retry, not us.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gives up mid-body (the faults make it) is expected, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class LocalUpstream:
    """Use ``with LocalUpstream.start() as up:``; ``up.index_url`` is the simple index."""

    def __init__(self) -> None:
        self.dists: dict[str, Dist] = {}
        self.etags = True  # send ETag and honour If-None-Match
        self.serials = True  # send X-PyPI-Last-Serial
        self.core_metadata_keys = True  # advertise .metadata in pages (PEP 658/714)
        self.html_only = False  # serve PEP 503 HTML whatever the Accept header says
        self.slow_seconds = 3.0
        self.file_delay = 0.0  # seconds before every file answer: a sync that takes a while
        self.faults: dict[str, list[Fault]] = {}  # URL path -> faults to serve, in order
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.serial = 1
        self.project_serials: dict[str, int] = {}  # PEP 691 root "_last-serial" per project
        # PEP 792 status and reason per project; a quarantined one lists no files, as the
        # public index does to malware
        self.statuses: dict[str, tuple[str, str | None]] = {}
        self.extra: dict[str, bytes] = {}  # other files served at these paths, with ETags
        self.lock = threading.Lock()
        self.port = 0
        self.scheme = "http"  # "https" when started with a TLS context
        self.foreign_url = ""  # where the ``foreign`` fault redirects to
        self.planted: dict[str, list[str]] = {}  # project -> other projects' files it lists
        self.auth: tuple[str, str] | None = None  # basic auth every request must carry
        self.authorized: list[bool] = []  # whether each request carried it
        self.credentials: list[str | None] = []  # the Authorization header of each request

    # --- content -----------------------------------------------------------------------
    def add(
        self,
        path: Path,
        *,
        yanked: bool | str = False,
        metadata: bool = True,
        flat: bool = False,
        upload_time: dt.datetime | None = None,
        provenance: bytes | None = None,
    ) -> Dist:
        """Serve a built file; ``flat`` puts it at ``/files/<name>`` instead of ``/packages``."""
        sha256, blake2, size = hashlib.sha256(), hashlib.blake2b(digest_size=32), 0
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                sha256.update(chunk)
                blake2.update(chunk)
                size += len(chunk)
        blake = blake2.hexdigest()
        url_path = (
            f"/files/{path.name}"
            if flat
            else f"/packages/{blake[:2]}/{blake[2:4]}/{blake[4:]}/{path.name}"
        )
        with path.open("rb") as f:
            inspected = inspect_distribution(path.name, f)
        dist = Dist(
            path,
            sha256.hexdigest(),
            size,
            url_path,
            yanked,
            inspected.metadata if metadata and path.name.endswith(".whl") else None,
            upload_time or dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            inspected.requires_python,
            provenance,
        )
        with self.lock:
            self.dists[path.name] = dist
            self._bump(path.name)
        return dist

    def _bump(self, filename: str) -> None:
        self.serial += 1
        self.project_serials[str(parse_distribution_filename(filename).name)] = self.serial

    def remove(self, filename: str) -> None:
        with self.lock:
            del self.dists[filename]
            self._bump(filename)

    def yank(self, filename: str, reason: bool | str = True) -> None:
        with self.lock:
            self.dists[filename].yanked = reason
            self._bump(filename)

    def set_status(self, project: str, status: str, reason: str | None = None) -> None:
        with self.lock:
            self.statuses[str(canonicalize_name(project))] = (status, reason)
            self.serial += 1

    def fail(self, path: str, *faults: Fault) -> None:
        """Serve these faults, one per request, for ``path`` (a page or file URL path)."""
        if "huge" in faults:
            _gzip_bomb(b"")  # compressed now, not while a client's timeout runs
        with self.lock:
            self.faults.setdefault(path, []).extend(faults)

    def page_path(self, project: str) -> str:
        return f"/simple/{canonicalize_name(project)}/"

    @property
    def index_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/simple/"

    def count(self, prefix: str = "", method: str = "GET") -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    # --- rendering -----------------------------------------------------------------------
    def _project_dists(self, name: str) -> list[Dist]:
        planted = self.planted.get(name, [])
        return sorted(
            (
                d
                for d in self.dists.values()
                if parse_distribution_filename(d.filename).name == name or d.filename in planted
            ),
            key=lambda d: d.filename,
        )

    def _json(self, name: str, dists: list[Dist]) -> bytes:
        status = self.statuses.get(name)
        if status and status[0] == "quarantined":
            dists = []
        files = []
        for d in dists:
            entry: dict[str, object] = {
                "filename": d.filename,
                "url": d.url or "../.." + d.url_path,  # relative, as PEP 691 allows
                "hashes": {"sha256": d.sha256},
                "requires-python": d.requires_python,
                "yanked": d.yanked,
                "size": d.size,
                "upload-time": d.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            if d.metadata is not None and self.core_metadata_keys:
                entry["core-metadata"] = {"sha256": hashlib.sha256(d.metadata).hexdigest()}
            if d.provenance is not None or d.provenance_url:
                entry["provenance"] = d.provenance_url or "../.." + d.url_path + ".provenance"
            files.append(entry)
        versions = sorted({str(parse_distribution_filename(d.filename).version) for d in dists})
        meta: dict[str, object] = {"api-version": "1.4" if status else "1.1"}
        document: dict[str, object] = {
            "meta": meta,
            "name": name,
            "files": files,
            "versions": versions,
        }
        if status:
            document["project-status"] = {"status": status[0]} | (
                {"reason": status[1]} if status[1] else {}
            )
        return json.dumps(document).encode()

    def _root(self) -> bytes:
        projects = [{"name": n, "_last-serial": s} for n, s in sorted(self.project_serials.items())]
        return json.dumps({"meta": {"api-version": "1.1"}, "projects": projects}).encode()

    def _json_api(self, name: str, dists: list[Dist], base: str) -> bytes:
        """The legacy JSON API (``/pypi/<name>/json``), which bandersnatch reads."""
        releases: dict[str, list[dict[str, object]]] = {}
        for d in dists:
            version = str(parse_distribution_filename(d.filename).version)
            entry: dict[str, object] = {
                "filename": d.filename,
                "url": base + d.url_path,
                "digests": {"sha256": d.sha256},
                "size": d.size,
                "upload_time_iso_8601": d.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "requires_python": d.requires_python,
                "yanked": bool(d.yanked),
                "packagetype": "bdist_wheel" if d.filename.endswith(".whl") else "sdist",
            }
            if d.metadata is not None:
                entry["core-metadata"] = {"sha256": hashlib.sha256(d.metadata).hexdigest()}
            releases.setdefault(version, []).append(entry)
        latest = max(releases, key=lambda v: parse_distribution_filename(f"x-{v}.tar.gz").version)
        info = {"name": name, "version": latest}
        serial = self.project_serials.get(name, self.serial)
        body = {"info": info, "releases": releases, "last_serial": serial, "urls": []}
        return json.dumps(body).encode()

    def _html(self, name: str, dists: list[Dist]) -> bytes:
        status = self.statuses.get(name)
        head = ""
        if status:
            head = f'<meta name="pypi:project-status" content="{status[0]}">'
            if status[1]:
                head += (
                    f'<meta name="pypi:project-status-reason" content="{html.escape(status[1])}">'
                )
            if status[0] == "quarantined":
                dists = []
        links = []
        for d in dists:
            attrs = f'href="{html.escape(d.url or "../.." + d.url_path)}#sha256={d.sha256}"'
            if d.requires_python:
                attrs += f' data-requires-python="{html.escape(d.requires_python)}"'
            if d.yanked:
                reason = d.yanked if isinstance(d.yanked, str) else ""
                attrs += f' data-yanked="{html.escape(reason)}"'
            if d.metadata is not None and self.core_metadata_keys:
                attrs += f' data-core-metadata="sha256={hashlib.sha256(d.metadata).hexdigest()}"'
            links.append(f"<a {attrs}>{d.filename}</a><br/>")
        body = (
            f"<!DOCTYPE html><html><head>{head}</head><body><h1>{name}</h1>{''.join(links)}"
            "</body></html>"
        )
        return body.encode()

    # --- serving -----------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the body's last
            # segment waited for the client's delayed ACK, 40 ms per response, so a first
            # sync of 280 requests took 1.5 s however fast the client (measured). Real
            # upstreams (CDNs) send at once; so does this one.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with upstream.lock:
                    upstream.requests.append((self.command, path))
                    upstream.credentials.append(self.headers.get("Authorization"))
                    queue = upstream.faults.get(path) or []
                    fault = queue.pop(0) if queue else None
                if upstream.auth is not None:
                    user, password = upstream.auth
                    token = base64.b64encode(f"{user}:{password}".encode()).decode()
                    authorized = self.headers.get("Authorization") == f"Basic {token}"
                    upstream.authorized.append(authorized)
                    if not authorized:
                        return self._send(401, b"who are you?", {"WWW-Authenticate": "Basic"})
                if fault in ("500", "403"):
                    return self._send(int(fault), b"injected failure", {})
                if fault == "429":
                    return self._send(429, b"slow down", {"Retry-After": "0"})
                hop = re.search(r"[?&]hop=(\d+)", self.path)
                if fault == "loop" or hop:  # an endless chain of redirects, ?hop=1, 2...
                    after = int(hop[1]) + 1 if hop else 1
                    return self._send(302, b"", {"Location": f"{path}?hop={after}"})
                if fault == "foreign":
                    return self._send(302, b"", {"Location": upstream.foreign_url})
                if fault == "slow":
                    time.sleep(upstream.slow_seconds)
                if path in upstream.extra:
                    body = upstream.extra[path]
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304, b"", {"ETag": etag})
                    return self._send(200, body, {"ETag": etag})
                if path in ("/simple", "/simple/"):
                    with upstream.lock:
                        body = upstream._root()
                    content_type = "application/vnd.pypi.simple.v1+json"
                    return self._send(200, body, {"Content-Type": content_type})
                match = re.fullmatch(r"/simple/([^/]+)/", path)
                if match:
                    return self._page(match[1], fault)
                match = re.fullmatch(r"/pypi/([^/]+)/json", path)
                if match:
                    return self._json_api(canonicalize_name(match[1]))
                with upstream.lock:
                    found = [d for d in upstream.dists.values() if path.startswith(d.url_path)]
                for dist in found:
                    if path == dist.url_path:
                        return self._file(dist.path, fault)
                    if path == dist.url_path + ".provenance" and dist.provenance is not None:
                        return self._send(200, dist.provenance, {})
                    if path == dist.url_path + ".metadata" and dist.metadata is not None:
                        body = dist.metadata
                        return self._send(200, body + b"X" if fault == "corrupt" else body, {})
                self._send(404, b"not found", {})

            def _json_api(self, name: str) -> None:
                with upstream.lock:
                    dists = upstream._project_dists(name)
                    serial = upstream.project_serials.get(name, upstream.serial)
                if not dists:
                    return self._send(404, b"no such project", {})
                body = upstream._json_api(name, dists, f"http://127.0.0.1:{upstream.port}")
                headers = {"Content-Type": "application/json", "X-PyPI-Last-Serial": str(serial)}
                self._send(200, body, headers)

            def _page(self, raw_name: str, fault: Fault | None) -> None:
                name = canonicalize_name(raw_name)
                if name != raw_name:
                    return self._send(301, b"", {"Location": upstream.page_path(name)})
                with upstream.lock:
                    dists = upstream._project_dists(name)
                    serial = upstream.serial
                if not dists and name not in upstream.statuses:
                    return self._send(404, b"no such project", {})
                wants_json = "json" in self.headers.get("Accept", "") and not upstream.html_only
                if wants_json:
                    body = upstream._json(name, dists)
                    headers = {"Content-Type": "application/vnd.pypi.simple.v1+json"}
                else:
                    body = upstream._html(name, dists)
                    headers = {"Content-Type": "application/vnd.pypi.simple.v1+html"}
                if fault == "malformed":
                    body = body[: len(body) // 2]
                if fault == "garbled":
                    headers["Content-Encoding"] = "gzip"
                if fault == "huge":
                    headers["Content-Encoding"] = "gzip"
                    body = _gzip_bomb(body)
                if upstream.serials:
                    headers["X-PyPI-Last-Serial"] = str(serial)
                if upstream.etags:
                    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                    headers["ETag"] = etag
                    if self.headers.get("If-None-Match") == etag:
                        return self._send(304, b"", headers)
                self._send(200, body, headers)

            def _file(self, path: Path, fault: Fault | None) -> None:
                time.sleep(upstream.file_delay)
                if fault is None:  # stream from disk: files of any size, flat memory
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(path.stat().st_size))
                    self.end_headers()
                    if self.command != "HEAD":
                        with path.open("rb") as f:
                            while chunk := f.read(1 << 20):
                                self.wfile.write(chunk)
                    return
                data = path.read_bytes()
                if fault == "drip":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    with contextlib.suppress(OSError):  # the client gives up: expected
                        for start in range(0, len(data), DRIP_RATE // 10):
                            self.wfile.write(data[start : start + DRIP_RATE // 10])
                            self.wfile.flush()
                            time.sleep(0.1)
                    self.close_connection = True
                    return
                if fault == "length":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data) - 100))
                    self.end_headers()
                    self.wfile.write(data)
                    self.close_connection = True
                    return
                if fault == "corrupt":
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if fault == "truncate":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(200, data, {"Content-Type": "application/octet-stream"})

        return Handler

    @classmethod
    @contextlib.contextmanager
    def start(cls, tls: ssl.SSLContext | None = None) -> Iterator[LocalUpstream]:
        """Serve on a free loopback port; over HTTPS with ``tls`` (a server-side context)."""
        upstream = cls()
        server = _Server(("127.0.0.1", 0), upstream._handler())
        server.daemon_threads = True
        upstream.port = server.server_address[1]
        if tls is not None:
            # The handshake runs on the handler's thread (at its first read), not in accept.
            server.socket = tls.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
            upstream.scheme = "https"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield upstream
        finally:
            server.shutdown()
            server.server_close()


def install_lock(python: Path, index_url: str, lock: Path) -> None:
    """``pip install --require-hashes -r LOCK`` from the mirror only (what a user of it runs)."""
    from tests.support.processes import client_env, run

    run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--require-hashes",
            "--index-url",
            index_url,
            "-r",
            str(lock),
        ],
        env=client_env(),
    )
