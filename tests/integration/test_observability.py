"""Probes and metrics (in-process, real stores): liveness never touches the store, readiness
does; /metrics labels stay bounded whatever clients send (issue 10, defect 6), it counts
cache, auth and sync figures, and a project-scoped token cannot read it."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import httpx
import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.core.settings import ServerSettings, Settings
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.protocol import BlobStore, open_store
from blobpi.sync.io.history import record_run
from blobpi.sync.io.report import Report
from tests.integration.test_auth import add_token, auth, serve
from tests.support.dists import build_wheel
from tests.support.processes import AZURITE_ACCOUNT, AZURITE_KEY, free_port

pytestmark = pytest.mark.anyio


def _samples(body: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in the exposition text."""
    found = {}
    for line in body.splitlines():
        match = re.fullmatch(rf"{name}(\{{.*\}})? (\S+)", line)
        if match:
            found[match[1] or ""] = float(match[2])
    return found


async def test_health__live_and_ready_split_on_a_store_that_is_down() -> None:
    port = free_port()  # nothing listens there: every storage request is refused
    account = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={account};"
    )
    store = open_store(f"{account}/down", connection)
    app = create_app(Settings(storage="unused", server=ServerSettings(page_ttl=0)), store=store)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://blobpi") as http:
                started = time.monotonic()
                assert (await http.get("/health/live")).status_code == 200
                assert time.monotonic() - started < 1  # liveness does not wait for storage
                for path in ("/health/ready", "/health"):
                    response = await http.get(path)
                    assert response.status_code == 503, path
                    assert response.text == "storage unavailable\n"
    finally:
        await store.close()


async def test_health__ready_on_an_empty_store(store: BlobStore) -> None:
    async with serve(store) as http:  # off loopback, no token: the probes stay open
        for path in ("/health/live", "/health/ready", "/health"):
            response = await http.get(path)
            assert (response.status_code, response.text) == (200, "ok\n"), path


async def test_health__not_ready_once_the_store_has_gone(tmp_path: Path) -> None:
    """A directory moved away (or a container deleted) under a running server: not ready."""
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(storage=str(data), server=ServerSettings(page_ttl=0))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://blobpi") as http:
            assert (await http.get("/health/ready")).status_code == 200  # empty: ready
            data.rename(tmp_path / "moved")
            gone = await http.get("/health/ready")
            assert (gone.status_code, gone.text) == (503, "storage unavailable\n")
            assert (await http.get("/health/live")).status_code == 200
            (tmp_path / "moved").rename(data)
            assert (await http.get("/health/ready")).status_code == 200


async def test_metrics__labels_stay_bounded_whatever_clients_send(store: BlobStore) -> None:
    secret, _ = await add_token(store)
    async with serve(store) as http:
        for i in range(40):  # refused before auth: counted, but never by raw method or path
            await http.request(f"M{i}ETHOD", f"/simple/p{i}/")
            await http.get(f"/no/such/path/{i}")
            await http.get(f"/packages/ab/cd/ef/x{i}-1.0.tar.gz")
        body = (await http.get("/metrics", auth=auth(secret))).text
        requests = _samples(body, "blobpi_http_requests_total")
        assert "M0ETHOD" not in body and "/no/such" not in body and "x0-1.0" not in body
        assert not re.search(r"p\d+", "".join(requests))
        methods = set(re.findall(r'method="([^"]*)"', "".join(requests)))
        routes = set(re.findall(r'route="([^"]*)"', "".join(requests)))
        assert methods <= {"GET", "HEAD", "POST", "other"}
        assert routes <= {"/simple/{project}/", "/packages/{path:path}", "other", "/metrics"}
        assert requests['{method="other",route="/simple/{project}/",status="401"}'] == 40
        assert requests['{method="GET",route="other",status="401"}'] == 40
        assert len(body.splitlines()) < 200  # 120 distinct requests, a fixed-size answer
        failures = _samples(body, "blobpi_auth_failures_total")
        assert failures['{reason="Unauthenticated"}'] == 120


async def test_metrics__latency_cache_and_auth_figures(store: BlobStore, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "demo", "1.0")
    with wheel.open("rb") as f:
        await publish(store, wheel.name, f, max_bytes=10**8)
    secret, _ = await add_token(store)
    async with serve(store, page_ttl=60) as http:
        for _ in range(3):
            assert (await http.get("/simple/demo/", auth=auth(secret))).status_code == 200
        assert (await http.get("/simple/demo/", auth=auth("bpi_x_wrong"))).status_code == 401
        body = (await http.get("/metrics", auth=auth(secret))).text
    buckets = _samples(body, "blobpi_http_request_duration_seconds_count")
    assert buckets['{route="/simple/{project}/"}'] == 4
    cache = _samples(body, "blobpi_page_cache_lookups_total")
    assert cache['{result="miss"}'] >= 1 and cache['{result="hit"}'] >= 2
    sent = _samples(body, "blobpi_http_response_body_bytes_total")
    assert sent['{route="/simple/{project}/"}'] > 0
    assert _samples(body, "blobpi_auth_failures_total") == {'{reason="Unauthenticated"}': 1}


async def test_metrics__sync_figures_and_age_from_the_history(store: BlobStore) -> None:
    finished = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    report = Report(shard="1/2", projects=2, added=["a", "b"], bytes=1234, seconds=2.5)
    assert await record_run(
        store, report, "https://u:p@up.example/simple/", [], finished, wrote=True
    )
    failed = Report(shard="1/2", failed=["six: upstream said 500"], seconds=1.0)
    later = finished + dt.timedelta(hours=1)
    assert await record_run(store, failed, "https://up.example/simple/", [], later, wrote=False)
    secret, _ = await add_token(store)
    async with serve(store) as http:
        body = (await http.get("/metrics", auth=auth(secret))).text
    shard = '{shard="1/2"}'
    assert _samples(body, "blobpi_sync_last_success_timestamp_seconds")[shard] == pytest.approx(
        finished.timestamp()
    )
    age = _samples(body, "blobpi_sync_last_success_age_seconds")[shard]
    assert 3 * 3600 - 5 < age < 3 * 3600 + 60  # the failed run since does not reset it
    assert _samples(body, "blobpi_sync_last_run_ok")[shard] == 0
    assert _samples(body, "blobpi_sync_last_run_failures")[shard] == 1
    assert "u:p" not in body


async def test_metrics__a_project_token_cannot_read_index_wide_views(store: BlobStore) -> None:
    mine, record = await add_token(store, project=canonicalize_name("mine"))
    everyone, _ = await add_token(store)
    async with serve(store) as http:
        for path in ("/metrics", "/"):
            refused = await http.get(path, auth=auth(mine))
            assert refused.status_code == 403, path
            assert "limited to project 'mine'" in refused.text and "/simple/mine/" in refused.text
            assert (await http.get(path, auth=auth(everyone))).status_code == 200, path
        assert (await http.get("/project/other/", auth=auth(mine))).status_code == 403
        assert (await http.get("/project/mine/", auth=auth(mine))).status_code == 404
