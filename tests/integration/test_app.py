"""The server over HTTP (Starlette's TestClient, real stores): negotiation, redirects,
caching, downloads and hostile paths."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from packaging.utils import canonicalize_name
from starlette.testclient import TestClient

from blobpi.mirror.core.model import ProjectPage
from blobpi.mirror.core.sources import parse_settings
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.pages import update_project
from tests.conftest import StoreSpec
from tests.support.dists import build_sdist, build_wheel

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"


@dataclasses.dataclass
class Served:
    client: TestClient
    spec: StoreSpec
    wheel: Path
    wheel_url: str

    def publish(self, path: Path) -> None:
        async def _run() -> None:
            store = self.spec.open()
            try:
                await store.ensure()
                with path.open("rb") as f:
                    await publish(store, path.name, f, max_bytes=10**8)
            finally:
                await store.close()

        anyio.run(_run)


@pytest.fixture
def served(store_spec: StoreSpec, tmp_path: Path) -> Iterator[Served]:
    wheel = build_wheel(tmp_path / "dist", "Demo_Pkg", "1.0", requires_python=">=3.8")
    sdist = build_sdist(tmp_path / "dist", "Demo_Pkg", "1.0")
    environ = {**store_spec.environ, "BLOBPI_PAGE_TTL": "0"}
    settings = parse_settings(environ, flags={"storage": store_spec.spec})
    with TestClient(create_app(settings)) as client:
        served = Served(client, store_spec, wheel, "")
        served.publish(wheel)
        served.publish(sdist)
        doc = client.get("/simple/demo-pkg/", headers={"Accept": JSON}).json()
        served.wheel_url = next(
            f["url"] for f in doc["files"] if f["filename"] == wheel.name
        ).removeprefix("../..")
        yield served


def test_app__project_page_json(served: Served) -> None:
    response = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert "Accept" in response.headers["vary"]
    doc = response.json()
    assert doc["name"] == "demo-pkg" and doc["meta"]["api-version"] == "1.4"
    assert len(doc["files"]) == 2


@pytest.mark.parametrize(
    ("accept", "query", "content_type"),
    [
        (None, "", "text/html; charset=utf-8"),
        (HTML, "", HTML + "; charset=utf-8"),
        ("text/html", f"?format={JSON}", JSON),
        (f"{JSON};q=0.5, {HTML}", "", HTML + "; charset=utf-8"),
    ],
)
def test_app__negotiates_format(
    served: Served, accept: str | None, query: str, content_type: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    for path in ("/simple/", "/simple/demo-pkg/"):
        response = served.client.get(path + query, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type


def test_app__406_when_nothing_acceptable(served: Served) -> None:
    response = served.client.get("/simple/demo-pkg/", headers={"Accept": "application/json"})
    assert response.status_code == 406
    assert JSON in response.text


@pytest.mark.parametrize("raw", ["Demo_Pkg", "DEMO.PKG", "demo__pkg"])
def test_app__redirects_to_canonical_name(served: Served, raw: str) -> None:
    response = served.client.get(f"/simple/{raw}/?format={JSON}", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].endswith(f"/simple/demo-pkg/?format={JSON}")


def test_app__redirects_missing_slash(served: Served) -> None:
    response = served.client.get("/simple/demo-pkg", follow_redirects=False)
    assert response.status_code in (301, 307, 308)
    assert response.headers["location"].endswith("/simple/demo-pkg/")


def test_app__404_for_unknown_project(served: Served) -> None:
    response = served.client.get("/simple/nothing-here/")
    assert response.status_code == 404
    assert "nothing-here" in response.text


def test_app__etag_and_304(served: Served) -> None:
    first = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON})
    etag = first.headers["etag"]
    again = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    html = served.client.get("/simple/demo-pkg/", headers={"Accept": HTML})
    assert html.headers["etag"] != etag  # one strong ETag per representation


def test_app__gzip_when_accepted(served: Served) -> None:
    response = served.client.get(
        "/simple/demo-pkg/", headers={"Accept": JSON, "Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    plain = served.client.get(
        "/simple/demo-pkg/", headers={"Accept": JSON, "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert response.json() == plain.json()  # the client decoded it
    with served.client.stream(
        "GET", "/simple/demo-pkg/", headers={"Accept": JSON, "Accept-Encoding": "gzip"}
    ) as raw:  # the bytes on the wire, before the client decodes them
        wire = b"".join(raw.iter_raw())
    assert wire[:2] == b"\x1f\x8b" and wire != plain.content  # gzip's magic number
    assert gzip.decompress(wire) == plain.content
    assert raw.headers["content-length"] == str(len(wire))


def test_app__head_page_has_length_and_no_body(served: Served) -> None:
    get = served.client.get("/simple/demo-pkg/", headers={"Accept-Encoding": "identity"})
    head = served.client.head("/simple/demo-pkg/", headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]


def test_app__new_page_appears_without_restart(served: Served, tmp_path: Path) -> None:
    before = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON}).json()
    served.publish(build_wheel(tmp_path / "more", "Demo_Pkg", "2.0"))
    after = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON}).json()
    assert before["versions"] == ["1.0"] and after["versions"] == ["1.0", "2.0"]


def test_app__download_whole_file(served: Served) -> None:
    response = served.client.get(served.wheel_url)
    data = served.wheel.read_bytes()
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    cached = served.client.get(
        served.wheel_url, headers={"If-None-Match": response.headers["etag"]}
    )
    assert cached.status_code == 304


def test_app__download_range(served: Served) -> None:
    data = served.wheel.read_bytes()
    response = served.client.get(served.wheel_url, headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.content == data[10:20]
    assert response.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = served.client.get(served.wheel_url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == data[-5:]
    stale = served.client.get(
        served.wheel_url, headers={"Range": "bytes=0-1", "If-Range": '"other"'}
    )
    assert stale.status_code == 200 and stale.content == data
    beyond = served.client.get(served.wheel_url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_app__head_file(served: Served) -> None:
    response = served.client.head(served.wheel_url)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == str(served.wheel.stat().st_size)


def test_app__metadata_file_matches_core_metadata_hash(served: Served) -> None:
    doc = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON}).json()
    wheel = next(f for f in doc["files"] if f["filename"] == served.wheel.name)
    metadata = served.client.get(served.wheel_url + ".metadata")
    assert metadata.status_code == 200
    assert hashlib.sha256(metadata.content).hexdigest() == wheel["core-metadata"]["sha256"]


@pytest.mark.parametrize(
    "path",
    [
        "/packages/%2e%2e/simple/index.v1_json",
        "/packages/a%2fb",
        "/packages/a%00b",
        "/packages/a%5cb",
        "/packages/" + "a" * 300,
        "/packages/.meta/x.json",
        "/simple/..%2f..%2fstate/",
        "/simple/" + "a" * 300 + "/",
        "/simple/%00/",
        "/simple/<script>/",
    ],
)
def test_app__hostile_paths_get_4xx(served: Served, path: str) -> None:
    response = served.client.get(path, follow_redirects=False)
    assert 400 <= response.status_code < 500
    assert "<script>" not in response.text


def test_app__escapes_html_from_metadata(served: Served) -> None:
    name = canonicalize_name("demo-pkg")

    def _yank(page: ProjectPage | None) -> ProjectPage:
        assert page is not None
        files = [dataclasses.replace(page.files[0], yanked='<script>alert("x")</script>')]
        return dataclasses.replace(page, files=(*files, *page.files[1:]))

    async def _run() -> None:
        store = served.spec.open()
        try:
            await update_project(store, name, _yank)
        finally:
            await store.close()

    anyio.run(_run)
    body = served.client.get("/simple/demo-pkg/").text
    assert "<script>" not in body and "&lt;script&gt;" in body
    doc = served.client.get("/simple/demo-pkg/", headers={"Accept": JSON}).json()
    assert doc["files"][0]["yanked"] == '<script>alert("x")</script>'  # JSON: exact, escaped


def test_app__health_and_landing(served: Served) -> None:
    assert served.client.get("/health").status_code == 200
    landing = served.client.get("/")
    assert landing.status_code == 200 and "demo-pkg" in landing.text


def test_app__empty_index_serves_empty_root(tmp_path: Path) -> None:
    settings = parse_settings({"BLOBPI_STORAGE": str(tmp_path / "empty"), "BLOBPI_PAGE_TTL": "0"})
    with TestClient(create_app(settings)) as client:
        doc = client.get("/simple/", headers={"Accept": JSON}).json()
        assert doc["projects"] == []
        assert "0 projects" in client.get("/").text
        assert json.loads(json.dumps(doc))["meta"]["api-version"] == "1.4"


def test_app__metrics_count_requests_by_route(served: Served) -> None:
    served.client.get("/simple/demo-pkg/")
    served.client.get("/simple/nothing-here/")
    body = served.client.get("/metrics").text
    assert 'route="/simple/{project}/",status="200"' in body
    assert 'route="/simple/{project}/",status="404"' in body
    assert "nothing-here" not in body  # labels never carry user input


def test_app__pages_are_cached_no_longer_than_the_server_does(served: Served) -> None:
    page = served.client.get("/simple/demo-pkg/")
    assert page.headers["cache-control"] == "max-age=0"  # BLOBPI_PAGE_TTL of the fixture
    assert "immutable" in served.client.get(served.wheel_url).headers["cache-control"]


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("/packages/%2e%2e/simple/index.v1_json", "an encoded '.' (%2E)"),
        ("/packages/a%2Fb", "an encoded '/' (%2F)"),
        ("/packages/a%5cb", "an encoded '\\' (%5C)"),
        ("/packages/a%00b", "an encoded NUL (%00)"),
    ],
)
def test_app__an_encoded_path_is_refused_by_what_it_holds(
    served: Served, path: str, found: str
) -> None:
    response = served.client.get(path, follow_redirects=False)
    assert response.status_code == 404, response.text  # InvalidName: as any bad name
    assert f"package paths may not hold {found}" in response.text
