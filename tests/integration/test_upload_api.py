"""The upload API and read tokens against a real ``blobpi serve`` process, on the local store
and on Azurite: twine and uv publish upload, pip installs with a read token (URL
credentials, then netrc), and every refusal answers with the right status and message and
leaves the container as it was."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.ops.tokens import TokenFile, new_token
from blobpi.mirror.store.pages import update_project, update_root
from blobpi.mirror.store.protocol import BlobStore
from tests.conftest import StoreSpec
from tests.support.dists import build_sdist, build_wheel
from tests.support.processes import BIN, Azurite, Server, client_env, run

MAX_BYTES = 100_000
MIRRORED = "mirrored-lib"


@dataclasses.dataclass
class Index:
    spec: StoreSpec
    server: Server
    tmp: Path
    upload: str  # a token with scope upload
    read: str  # a token with scope read
    expired: str
    wheel: Path
    sdist: Path

    def blobpi(self, *args: str, check: bool = True) -> str:
        env = {**client_env(), **self.spec.environ}
        return run([str(BIN / "blobpi"), *args, "--storage", self.spec.spec], env, check).stdout

    def listing(self) -> dict[str, str]:
        """Every blob and its ETag, except the token store, whose last-use field a
        successful authentication may update."""

        async def _list() -> dict[str, str]:
            store = self.spec.open()
            try:
                return {b.path: b.etag async for b in store.list() if b.path != "state/tokens.json"}
            finally:
                await store.close()

        return anyio.run(_list)

    def post(self, token: str | None, **kwargs: Any) -> httpx.Response:
        auth = ("__token__", token) if token else None
        return httpx.post(self.server.url + "/", auth=auth, timeout=30, **kwargs)


async def _seed(store: BlobStore) -> str:
    """A mirrored project, and an expired token; returns the token."""
    await store.ensure()
    mirrored = File(
        "mirrored_lib-1.0.tar.gz", "https://files.invalid/m.tar.gz", {"sha256": "0" * 64}
    )
    page = ProjectPage.build(MIRRORED, [mirrored], ["1.0"], origin="mirror")  # type: ignore[arg-type]
    await update_project(store, page.name, lambda _: page)
    await update_root(store, lambda p: ProjectList.of([*p.projects, page.name]))
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    secret, record = new_token("old", "upload", now=past, lifetime=dt.timedelta(days=1))
    await TokenFile(store, "state/tokens.json").update(lambda ts: {**ts, record.id: record})
    return secret


@pytest.fixture(
    scope="module", params=["local", pytest.param("azurite", marks=pytest.mark.azurite)]
)
def index(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Index]:
    tmp = tmp_path_factory.mktemp("upload-api")
    if request.param == "local":
        spec = StoreSpec("local", str(tmp / "data"), {})
    else:
        azurite: Azurite = request.getfixturevalue("azurite")
        spec = StoreSpec(
            "azurite",
            azurite.new_container_url(),
            {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string},
        )

    async def _seed_spec() -> str:
        store = spec.open()
        try:
            return await _seed(store)
        finally:
            await store.close()

    expired = anyio.run(_seed_spec)
    environ = {
        **spec.environ,
        "BLOBPI_ANONYMOUS_READ": "0",
        "BLOBPI_MAX_UPLOAD_BYTES": str(MAX_BYTES),
        "BLOBPI_AUTH_FAILURE_LIMIT": "1000",
    }
    dist = tmp / "dist"
    wheel, sdist = build_wheel(dist, "corp-demo", "1.0"), build_sdist(dist, "corp-demo", "1.0")
    with Server.start(spec.spec, environ, tmp) as server:
        index = Index(spec, server, tmp, "", "", expired, wheel, sdist)
        index.upload = index.blobpi("token", "create", "--name", "ci", "--scope", "upload").strip()
        index.read = index.blobpi("token", "create", "--name", "dev", "--scope", "read").strip()
        yield index
    log = server.log.read_text()
    for secret in (index.upload, index.read, index.expired):
        assert secret not in log


def _publish_with(index: Index, tool: str, token: str, *files: Path) -> Any:
    """``twine upload`` or ``uv publish``, each as a user would type it."""
    args = {
        "twine": [
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--verbose",
            "--repository-url",
        ],
        "uv": ["publish", "--trusted-publishing", "never", "--publish-url"],
    }[tool]
    url = index.server.url + "/"
    command = [str(BIN / tool), *args, url, "-u", "__token__", "-p", token, *map(str, files)]
    return run(command, env=client_env(), check=False)


def _twine(index: Index, token: str, *files: Path) -> Any:
    return _publish_with(index, "twine", token, *files)


def _uv_publish(index: Index, token: str, *files: Path) -> Any:
    return _publish_with(index, "uv", token, *files)


def _pip_install(index: Index, target: Path, url: str, home: Path | None = None) -> Any:
    extra = {"HOME": str(home)} if home else {}
    return run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--target",
            str(target),
            "--index-url",
            url,
            "corp-demo==1.0",
        ],
        env=client_env(extra),
        check=False,
    )


@pytest.mark.slow
def test_upload_api__twine_uv_publish_then_pip_with_a_read_token(index: Index) -> None:
    uploaded = _twine(index, index.upload, index.wheel)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    published = _uv_publish(index, index.upload, index.sdist)
    assert published.returncode == 0, published.stderr
    assert _twine(index, index.upload, index.wheel).returncode == 0  # same bytes: idempotent

    page = httpx.get(
        index.server.index_url + "corp-demo/",
        auth=("__token__", index.read),
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    ).json()
    files = {f["filename"]: f for f in page["files"]}
    assert set(files) == {index.wheel.name, index.sdist.name}
    assert files[index.wheel.name]["core-metadata"] != False  # noqa: E712 (PEP 658 file)
    assert (
        files[index.wheel.name]["hashes"]["sha256"]
        == hashlib.sha256(index.wheel.read_bytes()).hexdigest()
    )

    host = index.server.url.removeprefix("http://")
    with_url = _pip_install(
        index, index.tmp / "t1", f"http://__token__:{index.read}@{host}/simple/"
    )
    assert with_url.returncode == 0, with_url.stderr
    assert (index.tmp / "t1/corp_demo/__init__.py").read_text() == "VERSION = '1.0'\n"

    home = index.tmp / "home"
    home.mkdir()
    no_netrc = _pip_install(index, index.tmp / "t2", index.server.index_url, home)
    assert no_netrc.returncode != 0  # pip saw a 401 and had nothing to answer it with
    access = '"method": "GET", "path": "/simple/corp-demo/", "status": 401'  # JSON lines
    assert access in index.server.log.read_text()
    netrc = home / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin __token__\npassword {index.read}\n")
    netrc.chmod(0o600)
    with_netrc = _pip_install(index, index.tmp / "t3", index.server.index_url, home)
    assert with_netrc.returncode == 0, with_netrc.stderr
    assert (index.tmp / "t3/corp_demo/__init__.py").exists()

    listed = index.blobpi("token", "list")
    dev = next(line for line in listed.splitlines() if " dev " in line)
    assert dev.split()[-2:] != ["never"] and "read" in dev
    assert index.read not in listed and index.upload not in listed


@pytest.mark.slow
def test_upload_api__clients_show_the_refusal(index: Index) -> None:
    other = build_wheel(index.tmp / "other", "corp-demo", "1.0", payload_bytes=100)
    assert _twine(index, index.upload, index.wheel).returncode == 0
    before = index.listing()
    refused = _twine(index, index.read, index.wheel)
    assert refused.returncode != 0 and "403" in refused.stdout + refused.stderr
    assert "has scope 'read'" in refused.stdout + refused.stderr  # shown with --verbose
    conflict = _uv_publish(index, index.upload, other)
    assert conflict.returncode != 0
    assert "409" in conflict.stderr and "already exists with different content" in conflict.stderr
    assert index.listing() == before


def _form(path: Path, **overrides: str) -> dict[str, Any]:
    data = path.read_bytes()
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": parse_distribution_filename(path.name).name,
        "version": "1.0",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "md5_digest": hashlib.md5(data).hexdigest(),
    }
    fields.update(overrides)
    return {"data": fields, "files": {"content": (path.name, data, "application/octet-stream")}}


def _body(path: Path) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x/", **_form(path))
    return request.read(), request.headers["content-type"]


def _wheel(index: Index, name: str = "corp-new", **kwargs: Any) -> Path:
    return build_wheel(index.tmp / f"case-{name}-{len(kwargs)}", name, "1.0", **kwargs)


def _streamed_part(size: int) -> Iterator[bytes]:
    yield (
        b'--x\r\nContent-Disposition: form-data; name="content"; filename="corp_big-1.0.tar.gz"'
        b"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    for _ in range(size // 65536):
        yield b"\0" * 65536


def _declared(index: Index, length: int) -> httpx.Response:
    """A request that announces a huge body and sends none: answered before any is read."""
    host, port = index.server.url.removeprefix("http://").split(":")
    auth = base64.b64encode(f"__token__:{index.upload}".encode()).decode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        raw = b""
        while chunk := sock.recv(65536):  # the server closes: the body it refused is unread
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    return httpx.Response(int(head.split()[1]), content=body)


Case = Callable[[Index], httpx.Response]
CASES: dict[str, tuple[Case, int, str]] = {
    "no token": (lambda i: i.post(None, **_form(_wheel(i))), 401, "authentication required"),
    "wrong token": (lambda i: i.post("bpi_0000_x", **_form(_wheel(i))), 401, "not valid"),
    "expired token": (lambda i: i.post(i.expired, **_form(_wheel(i))), 401, "expired at"),
    "read token": (lambda i: i.post(i.read, **_form(_wheel(i))), 403, "has scope 'read'"),
    "mirrored name": (
        lambda i: i.post(i.upload, **_form(_wheel(i, MIRRORED))),
        403,
        "is a mirrored project",
    ),
    "different bytes": (
        lambda i: i.post(i.upload, **_form(_wheel(i, "corp-demo", payload_bytes=10))),
        409,
        "already exists with different content",
    ),
    "forged sha256": (
        lambda i: i.post(i.upload, **_form(_wheel(i), sha256_digest="ab" * 32)),
        400,
        "the sha256 the client sent does not match",
    ),
    "forged md5": (
        lambda i: i.post(i.upload, **_form(_wheel(i), md5_digest="ab" * 16)),
        400,
        "the md5 the client sent does not match",
    ),
    "other name in form": (
        lambda i: i.post(i.upload, **_form(_wheel(i), name="corp-other")),
        400,
        "the form names project 'corp-other'",
    ),
    "oversize file": (
        lambda i: i.post(i.upload, **_form(_wheel(i, payload_bytes=MAX_BYTES))),
        413,
        f"over the limit of {MAX_BYTES}",
    ),
    "oversize body, no length": (
        lambda i: i.post(
            i.upload,
            content=_streamed_part(5 * 1024 * 1024),  # chunked: cut off while streaming
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ),
        413,
        "BLOBPI_MAX_UPLOAD_BYTES",
    ),
    "oversize body, declared": (lambda i: _declared(i, 10**9), 413, "over the limit"),
    "malformed multipart": (
        lambda i: i.post(
            i.upload,
            content=_body(_wheel(i))[0][:-300],
            headers={"Content-Type": _body(_wheel(i))[1]},
        ),
        400,
        "malformed upload",
    ),
    "garbage multipart": (
        lambda i: i.post(
            i.upload,
            content=b"\r\n--x\r\nno headers here\r\n\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ),
        400,
        "malformed upload",
    ),
    "not multipart": (
        lambda i: i.post(i.upload, json={"content": "x"}),
        400,
        "expected a multipart/form-data body",
    ),
    "other action": (
        lambda i: i.post(i.upload, **_form(_wheel(i), **{":action": "submit"})),
        400,
        "unsupported :action 'submit'",
    ),
    "not a distribution": (
        lambda i: i.post(
            i.upload,
            data={":action": "file_upload"},
            files={"content": ("../../evil.sh", b"#!/bin/sh\n")},
        ),
        400,
        "is not a valid distribution filename",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_upload_api__refusals_leave_the_container_unchanged(index: Index, case: str) -> None:
    send, status, message = CASES[case]
    if case == "different bytes":  # the original must be there first
        assert index.post(index.upload, **_form(index.wheel)).status_code == 200
    before = index.listing()
    try:
        response = send(index)
    except httpx.TransportError as e:  # pragma: no cover - reported below
        pytest.fail(f"the server dropped the connection instead of answering: {e!r}")
    assert response.status_code == status, response.text
    assert message in response.text
    assert response.text.count("\n") == 1  # one line
    if status == 401:
        assert response.headers["www-authenticate"] == 'Basic realm="blobpi"'
    assert index.listing() == before


def test_upload_api__revoked_token(index: Index) -> None:
    token = index.blobpi("token", "create", "--name", "gone", "--scope", "read").strip()
    url = index.server.index_url
    assert httpx.get(url, auth=("__token__", token)).status_code == 200
    assert "revoked token" in index.blobpi("token", "revoke", "gone")
    time.sleep(0.3)  # the server revalidates the token store after BLOBPI_PAGE_TTL (0.2 s)
    response = httpx.get(url, auth=("__token__", token))
    assert response.status_code == 401 and "revoked" in response.text
