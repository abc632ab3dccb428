"""``python -m blobpi.sync.io.discover``: the other origins an upstream's page links files on."""

from __future__ import annotations

import httpx
import pytest

from blobpi.sync.io.discover import file_origins
from blobpi.sync.io.upstream import Upstream

pytestmark = pytest.mark.anyio
SHA = "a" * 64


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _file(name: str, url: str) -> dict[str, object]:
    return {"filename": name, "url": url, "hashes": {"sha256": SHA}}


async def test_discover__lists_other_origins_once_and_not_the_upstreams_own() -> None:
    page = {
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": [
            _file(
                "demo-1.0-py3-none-any.whl",
                "https://Files.Example.test/p/demo-1.0-py3-none-any.whl",
            ),
            _file("demo-1.0.tar.gz", "https://files.example.test:443/p/demo-1.0.tar.gz"),
            _file("demo-1.1.tar.gz", "../../packages/demo-1.1.tar.gz"),  # the upstream's own
            _file("demo-1.2.tar.gz", "http://cdn.example.test:8080/demo-1.2.tar.gz"),
        ],
    }

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/simple/demo/"
        return httpx.Response(
            200, json=page, headers={"Content-Type": "application/vnd.pypi.simple.v1+json"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        async with Upstream("https://index.example.test/simple/", client=client) as upstream:
            assert await file_origins(upstream, "demo") == [
                "http://cdn.example.test:8080",
                "https://files.example.test",
            ]
