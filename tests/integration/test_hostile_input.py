"""Hostile input, table-driven: paths, names, filenames, metadata that reaches a page, Accept
and Range headers, huge headers and bodies, archive bombs. Requests go through the ASGI
interface exactly as uvicorn builds it (``raw_path`` as sent, ``path`` percent-decoded), so
no client library normalizes the attack away first. Every case: no 5xx, no byte from outside
the store, no unescaped markup, nothing stored. Counts are quoted in docs/guarantees.md."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import anyio
import pytest

from blobpi.mirror.core.errors import InvalidName, UploadRejected
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.settings import ServerSettings, Settings
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.ops.tokens import TokenFile, new_token
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.local import LocalStore
from blobpi.mirror.store.pages import update_project, update_root
from tests.support.dists import build_sdist, build_wheel
from tests.support.markup import check_markup
from tests.unit.test_archive_bombs import _zip_claiming

CANARY = "CANARY-7f3a-outside-the-store"
PAYLOADS = [
    '"><script>alert(1)</script>',
    "' onmouseover='alert(1)",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "</a><a href=//evil.example>",
    "&lt;script&gt;",
    "\u202egnp.exe",  # right-to-left override
    "\x00\x1b[31m",
    "<!--",
    "]]><svg/onload=alert(1)>",
]


@dataclasses.dataclass
class Index:
    root: Path
    store: Path
    wheel: File
    upload_token: str

    def settings(self, **server: Any) -> Settings:
        values: dict[str, Any] = {"page_ttl": 0, "host": "0.0.0.0", "anonymous_read": True}
        return Settings(storage=str(self.store), server=ServerSettings(**(values | server)))


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def call(
    index: Index,
    raw_path: bytes,
    *,
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    **server: Any,
) -> Answer:
    """One request through the ASGI interface, with the app's lifespan around it."""
    app = create_app(index.settings(**server))
    path, _, query = raw_path.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote_to_bytes(path).decode("utf-8", "surrogateescape"),
        "raw_path": path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"blobpi"), *(headers or [])],
        "client": ("10.0.0.9", 1234),
        "server": ("blobpi", 80),
    }
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def _go() -> None:
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)

    anyio.run(_go)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(
        start["status"],
        {k.decode().lower(): v.decode("latin-1") for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )


def _hostile_page() -> ProjectPage:
    """A page with a payload in every field that reaches HTML or JSON."""
    files = [
        File(
            filename=f"evil-1.{i}.tar.gz{payload}",
            url=f"../../packages/aa/bb/{payload}",
            hashes={"sha256": payload},
            requires_python=payload,
            yanked=payload,
            size=1,
            upload_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            core_metadata={"sha256": payload},
            provenance=payload,
        )
        for i, payload in enumerate(PAYLOADS)
    ]
    return ProjectPage.build("evil", files, ["1.0"], origin="mirror")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_text(CANARY)
    (root / "store.txt").write_text(CANARY)  # beside the store: "../store.txt" must not reach
    store_dir = root / "store"
    wheel_path = build_wheel(root / "dists", "demo", "1.0")
    secret, record = new_token("up", "upload", now=dt.datetime.now(dt.UTC))

    async def _seed() -> File:
        async with LocalStore(store_dir) as store:
            await store.ensure()
            with wheel_path.open("rb") as f:
                published = await publish(store, wheel_path.name, f, max_bytes=10**6)
            page = _hostile_page()
            await update_project(store, page.name, lambda _: page)
            await update_root(store, lambda p: ProjectList.of([*p.projects, page.name]))
            await TokenFile(store, "state/tokens.json").update(lambda ts: {record.id: record})
            return published.file

    yield Index(root, store_dir, anyio.run(_seed), secret)


def _assert_safe(answer: Answer) -> None:
    assert answer.status < 500, answer
    assert CANARY.encode() not in answer.body
    assert b"root:x:0:0" not in answer.body
    location = answer.headers.get("location")
    if location is not None:  # a redirect stays on this host, under /simple/
        assert location.startswith("http://blobpi/simple/"), location


# --- paths ---------------------------------------------------------------------------------
_TRAVERSALS = [
    "..",
    "../..",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "..%2f..",
    "..%2F..%2F..",
    "..%5c..",
    "..\\..",
    "%2e%2e%5c",
    "%252e%252e",  # double-encoded
    "..%00",
    "%00",
    "a%00b",
    "..%c0%af",  # overlong UTF-8 slash
    "..%ef%bc%8f",  # FULLWIDTH SOLIDUS
    "..\u2215..",  # DIVISION SLASH
    "..\u2044..",  # FRACTION SLASH
    "\u2024\u2024",  # ONE DOT LEADER x2
    "\uff0e\uff0e",  # FULLWIDTH FULL STOP x2
    ".",
    "./.",
    "...",
    "~",
    "%7e",
    "a" * 300,
    "a" * 5000,
    "\u0663\u0664",  # ARABIC-INDIC digits
    "\u00b2",
    "\u212a",  # KELVIN SIGN, looks like K
    "%ff%fe",
    "%",
    "%zz",
    "\t",
    "%0d%0aSet-Cookie:%20x=1",
]
_TARGETS = ["outside/secret.txt", "store.txt", "etc/passwd", "state/tokens.json", ".meta"]
_PATH_CASES = (
    [
        f"/{prefix}/{t}/{target}"
        for prefix in ("simple", "packages")
        for t in _TRAVERSALS
        for target in _TARGETS[:2]
    ]
    + [f"/packages/{t}" for t in _TRAVERSALS]
    + [f"/simple/{t}/" for t in _TRAVERSALS]
)


def _raw(path: str) -> bytes:
    return quote(path, safe="/%\\.~:;=-_!*'()").encode()


@pytest.mark.parametrize("path", _PATH_CASES)
def test_hostile__paths_never_escape(index: Index, path: str) -> None:
    answer = call(index, _raw(path))
    _assert_safe(answer)
    assert answer.status in (301, 404), answer  # no traversal names a page or a file


@pytest.mark.parametrize(
    "path",
    [
        "/packages/.meta/x.json",
        "/packages/../state/tokens.json",
        "/packages/state/tokens.json",
        "/state/tokens.json",
        "/.tmp/x",
        "/.lock",
        "/simple/../state/tokens.json",
    ],
)
def test_hostile__internal_blobs_are_never_served(index: Index, path: str) -> None:
    answer = call(index, _raw(path))
    _assert_safe(answer)
    assert answer.status in (404, 405), answer
    assert b"digest" not in answer.body and b"salt" not in answer.body


# --- project names in URLs -----------------------------------------------------------------
_NAMES = [
    "Demo",
    "DEMO",
    "demo.",
    "-demo",
    "demo_",
    "d\u0435mo",  # Cyrillic e
    "demo\u0661",  # Arabic-Indic one
    "\uff44emo",  # fullwidth d
    "demo%00",
    "demo%2f..",
    "<script>",
    "%3cscript%3e",
    "demo\u200b",  # zero-width space
    "x" * 201,
    "x" * 10_000,
]


@pytest.mark.parametrize("name", _NAMES)
def test_hostile__project_names(index: Index, name: str) -> None:
    answer = call(index, _raw(f"/simple/{name}/"))
    _assert_safe(answer)
    assert answer.status in (200, 301, 404), answer
    assert b"<script>" not in answer.body


# --- markup in every field that reaches a page ----------------------------------------------
@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/simple/evil/", "text/html"),
        ("/simple/evil/", "application/vnd.pypi.simple.v1+html"),
        ("/simple/evil/", "application/vnd.pypi.simple.v1+json"),
        ("/simple/", "text/html"),
        ("/", "text/html"),  # the status pages, for people
        ("/project/evil/", "text/html"),
    ],
)
def test_hostile__markup_in_metadata_is_escaped(index: Index, path: str, accept: str) -> None:
    answer = call(index, path.encode(), headers=[(b"accept", accept.encode())])
    assert answer.status == 200
    if "json" in accept:
        files = json.loads(answer.body)["files"]  # valid JSON, every payload intact
        assert {f["requires-python"] for f in files} == set(PAYLOADS)
        return
    check_markup(answer.body.decode(), strict=path.startswith("/simple/"))
    if path == "/simple/evil/":
        for payload in PAYLOADS:
            assert payload.encode() not in answer.body or "<" not in payload


# --- headers -------------------------------------------------------------------------------
_ACCEPTS = [
    "",
    ";",
    ",,,",
    ";;;q=1",
    "*/*",
    "*/*;q=0",
    "*/*;q=-1",
    "*/*;q=abc",
    "*/*;q=1e999",
    "*/*;q=nan",
    "text/html;q=0.5;q=0.9",
    "application/vnd.pypi.simple.v1+json;q=",
    "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0",
    "application/vnd.pypi.simple.latest+json",
    "application/vnd.pypi.simple.v2+json",
    "text/*",
    "text/plain",
    "image/png",
    "TEXT/HTML",
    "text/html;charset=utf-8;level=1",
    "a" * 10_000,
    "text/html," * 5_000,
    "text/html;q=0.\u0661",
    "\u00e9/\u00e9",
    "text/html\x00",
]
_RANGES = [
    "bytes=0-\u00b2",
    "bytes=\u0661-\u0662",
    "bytes=--1",
    "bytes=-",
    "bytes=",
    "bytes=1-0",
    "bytes=0-0",
    "bytes=0-",
    "bytes=-0",
    "bytes=-1",
    "bytes=99999999999999999999999-",
    "bytes=0-99999999999999999999999",
    "bytes=0-1,2-3",
    "bytes=0-1, 0-1, 0-1",
    "Bytes=0-1",
    "bytes 0-1",
    "items=0-1",
    "bytes=\t0-1",
    "bytes=0x10-0x20",
    "bytes=1e3-",
    "bytes=+1-2",
    "bytes=0-1" + ",0-1" * 2_000,
    "=",
    "",
]


def _wire(text: str) -> bytes:
    """Header bytes that the server decodes (as Latin-1, like every ASGI server) back to
    ``text`` where Latin-1 can say it, so '²' arrives as '²'; else the UTF-8 bytes."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


@pytest.mark.parametrize("accept", _ACCEPTS)
@pytest.mark.parametrize("path", ["/simple/", "/simple/demo/"])
def test_hostile__accept_headers(index: Index, path: str, accept: str) -> None:
    answer = call(index, path.encode(), headers=[(b"accept", _wire(accept))])
    _assert_safe(answer)
    assert answer.status in (200, 406), answer


@pytest.mark.parametrize("byte_range", _RANGES)
def test_hostile__range_headers(index: Index, byte_range: str) -> None:
    assert index.wheel.blob_path is not None
    path = f"/packages/{index.wheel.blob_path.removeprefix('packages/')}"
    answer = call(index, path.encode(), headers=[(b"range", _wire(byte_range))])
    _assert_safe(answer)
    assert answer.status in (200, 206, 416), answer
    if answer.status == 206:
        assert len(answer.body) == int(answer.headers["content-length"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"authorization", b"Basic " + b"A" * 100_000),
        (b"authorization", b"Basic !!!"),
        (b"authorization", b"Bearer x"),
        (b"authorization", b"Basic " + base64.b64encode(b"\xff\xfe:\xff")),
        (b"if-none-match", b'"' + b"x" * 100_000 + b'"'),
        (b"if-none-match", b"*"),
        (b"if-range", b"\x00"),
        (b"accept-encoding", b"gzip;q=" + b"9" * 10_000),
        (b"x-forwarded-for", b"1.2.3.4, " * 10_000),
        (b"cookie", b"a=" + b"b" * 100_000),
        (b"content-length", b"9" * 5_000),  # int() of it would raise: never parsed
        (b"content-length", "\u0661".encode()),
    ],
)
def test_hostile__huge_and_odd_headers(index: Index, name: bytes, value: bytes) -> None:
    for path in (b"/simple/demo/", b"/simple/"):
        _assert_safe(call(index, path, headers=[(name, value)], anonymous_read=False))
        _assert_safe(call(index, path, headers=[(name, value)]))


# --- uploads -------------------------------------------------------------------------------
_FILENAMES = [
    "../demo-1.0.tar.gz",
    "..%2fdemo-1.0.tar.gz",
    "/etc/demo-1.0.tar.gz",
    "demo-1.0.tar.gz/../../x",
    "demo\\..\\x-1.0.tar.gz",
    "demo-1.0.tar.gz\x00.whl",
    "demo-1.0\u2215x.tar.gz",
    "d\u0435mo-1.0.tar.gz",
    "demo-\u0661.0.tar.gz",
    "demo-1.0.tar.gz\n",
    "demo-1.0<script>.tar.gz",
    'demo-1.0".tar.gz',
    "demo-1.0.exe",
    "demo-1.0.tar.gz.exe",
    ".demo-1.0.tar.gz",
    "demo-1.0.tar",
    "a" * 250 + "-1.0.tar.gz",
    "demo-1.0-py3-none-any.whl/../../x.whl",
    "demo-1.0-py3-none-any.WHL",
    "demo-1.0-xx.whl",
    "demo-notaversion-py3-none-any.whl",
    "",
    " ",
]


@pytest.mark.parametrize("filename", _FILENAMES)
def test_hostile__upload_filenames_store_nothing(
    index: Index, tmp_path: Path, filename: str
) -> None:
    sdist = build_sdist(tmp_path, "demo", "1.0")
    before = sorted(str(p) for p in index.store.rglob("*") if ".lock" not in p.name)

    async def _go() -> None:
        async with LocalStore(index.store) as store:
            with sdist.open("rb") as f:
                await publish(store, filename, f, max_bytes=10**6)

    with pytest.raises((InvalidName, UploadRejected)):
        anyio.run(_go)
    assert sorted(str(p) for p in index.store.rglob("*") if ".lock" not in p.name) == before
    assert not list(index.root.glob("**/x*"))


def _multipart(filename: str, content: bytes, **fields: str) -> tuple[bytes, bytes]:
    boundary = b"hostileboundary"
    parts = [
        b"--"
        + boundary
        + b"\r\n"
        + f'Content-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in {":action": "file_upload", "protocol_version": "1", **fields}.items()
    ]
    parts.append(
        b"--"
        + boundary
        + b"\r\n"
        + f'Content-Disposition: form-data; name="content"; filename="{filename}"\r\n'.encode()
        + b"Content-Type: application/octet-stream\r\n\r\n"
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    return body, b"multipart/form-data; boundary=" + boundary


@pytest.mark.parametrize(
    ("filename", "content", "status"),
    [
        ("demo-2.0.tar.gz", b"not a tar", 400),
        ("demo-2.0.tar.gz", b"\x1f\x8b" + b"\x00" * 100, 400),
        ("demo-2.0-py3-none-any.whl", b"PK\x05\x06" + b"\x00" * 18, 400),
        ("demo-2.0-py3-none-any.whl", b"PK\x03\x04" + b"\xff" * 1000, 400),
        ("../../x-1.0.tar.gz", b"x", 400),
        ("demo-2.0.tar.gz", b"x" * 3_000, 413),  # over the server's limit below
        # an archive bomb: the end record claims 1.5 M members (refused before parsing)
        ("bomb-1.0-py3-none-any.whl", _zip_claiming(1_500_000, zip64=True).getvalue(), 400),
    ],
)
def test_hostile__upload_api_bodies(
    index: Index, filename: str, content: bytes, status: int
) -> None:
    body, content_type = _multipart(filename, content)
    auth = b"Basic " + base64.b64encode(f"__token__:{index.upload_token}".encode())
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", auth),
    ]
    answer = call(index, b"/", method="POST", headers=headers, body=body, max_upload_bytes=2_000)
    _assert_safe(answer)
    assert answer.status == status, answer


# b"1\xb2" is "1²" once decoded as Latin-1, as HTTP headers are: str.isdigit() says yes.
@pytest.mark.parametrize("length", [b"9" * 5_000, b"1\xb2", "1\u00b2".encode(), b"-1", b"1e9"])
def test_hostile__upload_content_length(index: Index, length: bytes) -> None:
    """A Content-Length int() cannot read (or str.isdigit() misreads) is ignored, not a 500."""
    body, content_type = _multipart("demo-3.0.tar.gz", b"not a tar")
    auth = b"Basic " + base64.b64encode(f"__token__:{index.upload_token}".encode())
    headers = [
        (b"content-type", content_type),
        (b"content-length", length),
        (b"authorization", auth),
    ]
    answer = call(index, b"/", method="POST", headers=headers, body=body)
    _assert_safe(answer)
    assert answer.status == 400, answer


@pytest.mark.parametrize(
    "content_type",
    [
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"multipart/form-data; boundary=" + b"b" * 10_000,
        b"application/json",
        b"",
    ],
)
def test_hostile__malformed_upload_bodies(index: Index, content_type: bytes) -> None:
    auth = b"Basic " + base64.b64encode(f"__token__:{index.upload_token}".encode())
    headers = [(b"content-type", content_type), (b"authorization", auth)]
    answer = call(index, b"/", method="POST", headers=headers, body=b"--x\r\n" * 1000)
    _assert_safe(answer)
    assert 400 <= answer.status < 500, answer
