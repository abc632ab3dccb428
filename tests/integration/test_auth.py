"""Access control in the server (in-process, real stores): who may read, who may upload,
what each refusal says, the failure limit, the token file, and that no secret is logged."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from blobpi.mirror.core.settings import ServerSettings, Settings
from blobpi.mirror.ops.tokens import Token, TokenFile, new_token
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.protocol import BlobStore
from tests.support.dists import build_wheel

pytestmark = pytest.mark.anyio
NOW = dt.datetime.now(dt.UTC)


@contextlib.asynccontextmanager
async def serve(
    store: BlobStore, client: str = "10.0.0.1", **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    shared = settings.pop("shared_names", frozenset())
    key = settings.pop("connection_string", None)  # an account key, to sign with
    values: dict[str, Any] = {"page_ttl": 0, "host": "0.0.0.0"}
    server = ServerSettings(**(values | settings))
    app = create_app(
        Settings(
            storage="unused", storage_connection_string=key, shared_names=shared, server=server
        ),
        store=store,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://blobpi") as http:
            yield http


async def add_token(
    store: BlobStore, scope: str = "read", token_file: str | None = None, **fields: Any
) -> tuple[str, Token]:
    secret, record = new_token("t", scope, now=NOW)  # type: ignore[arg-type]
    record = dataclasses.replace(record, **fields)
    tokens = TokenFile.open(store, token_file)
    try:
        await tokens.update(lambda ts: {**ts, record.id: record})
    finally:
        await tokens.close()
    return secret, record


def auth(secret: str, user: str = "__token__") -> httpx.BasicAuth:
    return httpx.BasicAuth(user, secret)


async def test_auth__reads_need_a_token_off_loopback(store: BlobStore) -> None:
    secret, _ = await add_token(store)
    async with serve(store) as http:
        missing = await http.get("/simple/")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Basic realm="blobpi"'
        assert "blobpi token create" in missing.text
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/simple/", auth=auth(secret))).status_code == 200
        assert (await http.get("/simple/", auth=auth(secret, "anyone"))).status_code == 200
        # what needed a token is never kept by a shared cache
        page = await http.get("/simple/", auth=auth(secret))
        assert page.headers["cache-control"] == "private, max-age=0"


@pytest.mark.parametrize(
    ("settings", "anonymous"),
    [
        ({"host": "127.0.0.1"}, True),
        ({"host": "::1"}, True),
        ({"host": "0.0.0.0"}, False),
        ({"host": "0.0.0.0", "anonymous_read": True}, True),
        ({"host": "127.0.0.1", "anonymous_read": False}, False),
    ],
)
async def test_auth__anonymous_read_policy(
    store: BlobStore, settings: dict[str, Any], anonymous: bool
) -> None:
    async with serve(store, **settings) as http:
        assert (await http.get("/simple/")).status_code == (200 if anonymous else 401)
        upload = await http.post("/", files={"content": ("x-1.0.tar.gz", b"x")})
        assert upload.status_code == 401  # uploads always need a token


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"expires": NOW - dt.timedelta(seconds=1)}, 401, "expired at"),
        ({"digest": "0" * 64}, 401, "not valid"),
    ],
)
async def test_auth__refusals(
    store: BlobStore, fields: dict[str, Any], status: int, message: str
) -> None:
    secret, _ = await add_token(store, **fields)
    async with serve(store) as http:
        response = await http.get("/simple/", auth=auth(secret))
    assert response.status_code == status and message in response.text
    assert secret not in response.text


async def test_auth__revoked_token_stops_working(store: BlobStore) -> None:
    secret, record = await add_token(store)
    async with serve(store) as http:
        assert (await http.get("/simple/", auth=auth(secret))).status_code == 200
        tokens = TokenFile.open(store, None)
        await tokens.update(lambda ts: {k: v for k, v in ts.items() if k != record.id})
        response = await http.get("/simple/", auth=auth(secret))
    assert response.status_code == 401 and "revoked" in response.text


async def test_auth__scope_and_project_limits(store: BlobStore, tmp_path: Path) -> None:
    read, _ = await add_token(store, "read")
    mine, _ = await add_token(store, "upload", project="mine")
    wheel = build_wheel(tmp_path, "other", "1.0")
    async with serve(store) as http:
        response = await http.post("/", auth=auth(read), files={"content": (wheel.name, b"")})
        assert response.status_code == 403
        assert "scope 'read'" in response.text and "--scope upload" in response.text
        for path in ("/simple/other/", "/packages/ab/cd/ef/other-1.0.tar.gz"):
            response = await http.get(path, auth=auth(mine))
            assert response.status_code == 403 and "limited to project 'mine'" in response.text
        assert (await http.get("/simple/", auth=auth(mine))).status_code == 200
        response = await http.post(
            "/",
            auth=auth(mine),
            data={":action": "file_upload"},
            files={"content": (wheel.name, wheel.read_bytes())},
        )
        assert response.status_code == 403 and "not 'other'" in response.text
    assert [b async for b in store.list("packages/")] == []


async def test_auth__failures_are_limited_per_client(store: BlobStore) -> None:
    secret, _ = await add_token(store)
    async with serve(store, auth_failure_limit=3) as http:
        for _ in range(3):
            assert (await http.get("/simple/", auth=auth("bpi_wrong"))).status_code == 401
        blocked = await http.get("/simple/", auth=auth("bpi_wrong"))
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        # Issue 10, defect 19: a valid token is never refused for others' failures (one bad
        # CI job behind a NAT must not lock out everyone), and bad ones stay limited.
        for _ in range(5):
            assert (await http.get("/simple/", auth=auth(secret))).status_code == 200
            assert (await http.get("/simple/", auth=auth("bpi_wrong"))).status_code == 429
        # a request without credentials is not a failure: pip sends one before netrc
        async with serve(store, client="10.0.0.2", auth_failure_limit=1) as other:
            for _ in range(3):
                assert (await other.get("/simple/")).status_code == 401
            assert (await other.get("/simple/", auth=auth(secret))).status_code == 200


async def test_auth__last_use_is_recorded_once(store: BlobStore) -> None:
    secret, record = await add_token(store)
    tokens = TokenFile.open(store, None)
    async with serve(store) as http:
        await http.get("/simple/", auth=auth(secret))
        first = await tokens.read()
        await http.get("/simple/", auth=auth(secret))
        second = await tokens.read()
    assert first is not None and second is not None
    used = first[0][record.id].last_used
    assert used is not None and NOW <= used <= dt.datetime.now(dt.UTC)
    assert second[1] == first[1]  # not written again within the hour


async def test_auth__token_file_outside_the_container(store: BlobStore, tmp_path: Path) -> None:
    token_file = str(tmp_path / "secrets" / "tokens.json")
    secret, _ = await add_token(store, token_file=token_file)
    assert [b async for b in store.list("state/")] == []
    async with serve(store, token_file=token_file) as http:
        assert (await http.get("/simple/", auth=auth(secret))).status_code == 200
    async with serve(store) as http:  # the container's own store does not know it
        assert (await http.get("/simple/", auth=auth(secret))).status_code == 401


async def test_auth__no_secret_in_logs(store: BlobStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # Per logger too: `blobpi sync` run in-process by an earlier test quiets httpx's own level.
    for name in ("httpx", "blobpi", "uvicorn"):
        caplog.set_level(logging.DEBUG, logger=name)
    secret, _ = await add_token(store, "read")
    async with serve(store) as http:
        await http.get("/simple/", auth=auth(secret))
        await http.get("/simple/", auth=auth(secret + "x"))
        await http.post("/", auth=auth(secret), files={"content": ("a-1.tar.gz", b"")})
    assert caplog.records and secret not in caplog.text


async def test_auth__unreadable_token_store_is_503(store: BlobStore) -> None:
    secret, _ = await add_token(store)
    await store.put("state/tokens.json", b"{not json")
    async with serve(store) as http:
        response = await http.get("/simple/", auth=auth(secret))
        assert (await http.get("/health")).status_code == 200
    assert response.status_code == 503
    assert "token store" in response.text and "restores it from a backup" in response.text
    assert secret not in response.text
    # Issue 10, defect 12: the body never says where the store is (the log does).
    assert store.description not in response.text and "tokens.json" not in response.text


@pytest.mark.parametrize("body", [b"[]", b'{"tokens": {}}', b'{"tokens": [1]}', b"null", b"7"])
async def test_auth__a_token_store_of_the_wrong_shape_is_503_not_500(
    store: BlobStore, body: bytes
) -> None:
    secret, _ = await add_token(store)
    await store.put("state/tokens.json", body)
    async with serve(store) as http:
        response = await http.get("/simple/", auth=auth(secret))
    assert response.status_code == 503, response.text
    assert store.description not in response.text


async def test_auth__a_project_token_sees_only_its_project(
    store: BlobStore, tmp_path: Path
) -> None:
    """Issue 10, defect 11: the PEP 503 root shows a project's token its project alone, and
    paths that name no project (``/``, ``/metrics``, anything else) are refused to it."""
    from blobpi.mirror.ops.publish import publish

    for name in ("mine", "secret-plans"):
        wheel = build_wheel(tmp_path / name, name, "1.0")
        with wheel.open("rb") as f:
            await publish(store, wheel.name, f, max_bytes=10**6)
    mine, _ = await add_token(store, "read", project="mine")
    everything, _ = await add_token(store, "read")
    async with serve(store) as http:
        for accept in ("application/vnd.pypi.simple.v1+json", "text/html"):
            scoped = await http.get("/simple/", auth=auth(mine), headers={"Accept": accept})
            assert scoped.status_code == 200 and "mine" in scoped.text
            assert "secret-plans" not in scoped.text
            full = await http.get("/simple/", auth=auth(everything), headers={"Accept": accept})
            assert "secret-plans" in full.text
        for path in ("/", "/metrics"):  # views of the whole index
            response = await http.get(path, auth=auth(mine))
            assert response.status_code == 403 and "covers every project" in response.text
        response = await http.get("/nothing-here", auth=auth(mine))
        assert response.status_code == 403 and "names no project" in response.text
        assert (await http.get("/metrics", auth=auth(everything))).status_code == 200
        assert (await http.get("/simple/mine/", auth=auth(mine))).status_code == 200
