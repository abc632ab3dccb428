"""The server's OSV API (``/osv/v1/``) over the container's database: the query shapes
OSV clients send, and the real pip-audit with ``--osv-url`` finding what ``blobpi audit``
finds, with no internet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.testclient import TestClient

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.layout import osv_archive_path
from blobpi.mirror.core.sources import parse_settings
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.local import LocalStore
from tests.support.osv import archive_bytes, ghsa_record, mal_record, pysec_record
from tests.support.processes import BIN, Server, client_env, run

RECORDS = [
    ghsa_record("GHSA-demo-demo-demo", "demo", "1.0", "1.1", "HIGH", ["CVE-2025-1"]),
    pysec_record("PYSEC-2025-9", "demo", "0", "1.2"),
    mal_record("MAL-2026-42", "evil", ["1.0"]),
]


def _store_archive(storage: Path, data: bytes) -> None:
    async def _put() -> None:
        async with LocalStore(storage) as store:
            await store.ensure()
            await store.put(osv_archive_path(), data)

    anyio.run(_put)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    storage = tmp_path / "data"
    _store_archive(storage, archive_bytes(RECORDS))
    settings = parse_settings({"BLOBPI_STORAGE": str(storage), "BLOBPI_PAGE_TTL": "0"})
    with TestClient(create_app(settings)) as client:
        yield client


def _ids(document: dict[str, object]) -> list[str]:
    return sorted(v["id"] for v in document.get("vulns", []))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ({"package": {"name": "Demo", "ecosystem": "PyPI"}, "version": "1.0"},
         ["GHSA-demo-demo-demo", "PYSEC-2025-9"]),
        ({"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.1"}, ["PYSEC-2025-9"]),
        ({"package": {"purl": "pkg:pypi/evil@1.0"}}, ["MAL-2026-42"]),
        ({"package": {"name": "demo", "ecosystem": "PyPI"}},  # no version: all of them
         ["GHSA-demo-demo-demo", "PYSEC-2025-9"]),
        ({"package": {"name": "demo", "ecosystem": "npm"}, "version": "1.0"}, []),
        ({"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.2"}, []),
    ],
)  # fmt: skip
def test_osv_query(client: TestClient, query: dict[str, object], ids: list[str]) -> None:
    response = client.post("/osv/v1/query", json=query)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert _ids(response.json()) == ids
    if not ids:
        assert response.json() == {}  # as OSV answers


def test_osv_query__full_records_as_published(client: TestClient) -> None:
    query = {"package": {"name": "evil", "ecosystem": "PyPI"}, "version": "1.0"}
    assert client.post("/osv/v1/query", json=query).json() == {"vulns": [RECORDS[2]]}
    assert client.get("/osv/v1/vulns/GHSA-demo-demo-demo").json() == RECORDS[0]
    missing = client.get("/osv/v1/vulns/GHSA-nope")
    assert missing.status_code == 404


def test_osv_querybatch(client: TestClient) -> None:
    queries = [
        {"package": {"name": "demo", "ecosystem": "PyPI"}, "version": "1.0"},
        {"package": {"name": "six", "ecosystem": "PyPI"}, "version": "1.0"},
    ]
    answer = client.post("/osv/v1/querybatch", json={"queries": queries}).json()
    assert answer == {
        "results": [
            {
                "vulns": [
                    {"id": "GHSA-demo-demo-demo", "modified": "2025-01-02T03:04:05Z"},
                    {"id": "PYSEC-2025-9", "modified": "2025-01-02T03:04:05Z"},
                ]
            },
            {},
        ]
    }


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"version": "1"}', b'{"package": {"name": 3, "ecosystem": "PyPI"}}'],
)
def test_osv_query__bad_requests_are_400(client: TestClient, body: bytes) -> None:
    response = client.post("/osv/v1/query", content=body)
    assert response.status_code == 400 and len(response.text.strip().splitlines()) == 1


def test_osv_query__no_database_is_503(tmp_path: Path) -> None:
    settings = parse_settings({"BLOBPI_STORAGE": str(tmp_path / "empty")})
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/osv/v1/query", json={"package": {"name": "demo", "ecosystem": "PyPI"}}
        )
    assert response.status_code == 503 and "osv-url" in response.text


@pytest.mark.slow
def test_pip_audit__osv_url_finds_what_blobpi_audit_finds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = tmp_path / "data"
    _store_archive(storage, archive_bytes(RECORDS))
    lock = tmp_path / "requirements.txt"
    lock.write_text(
        f"demo==1.0 --hash=sha256:{'a' * 64}\n"
        f"evil==1.0 --hash=sha256:{'b' * 64}\n"
        f"fine==2.0 --hash=sha256:{'c' * 64}\n"
    )
    assert main(["audit", str(lock), "--storage", str(storage)], environ={}) == 1
    ours = {
        line.split(": ")[1].split(" ")[0]
        for line in capsys.readouterr().out.splitlines()
        if "==" in line.split(":")[0]
    }
    with Server.start(str(storage), {}, tmp_path) as server:
        result = run(
            [
                str(BIN / "pip-audit"),
                "--requirement", str(lock),
                "--no-deps", "--disable-pip",  # audit the pins as written: no resolution
                "--vulnerability-service", "osv",
                "--osv-url", f"{server.url}/osv/v1/query",
                "--format", "json",
                "--cache-dir", str(tmp_path / "cache"),
                "--progress-spinner", "off",
            ],
            env=client_env(),
            check=False,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr  # 1: vulnerabilities found
    found = json.loads(result.stdout)
    # pip-audit names a finding by its preferred id and keeps the others as aliases
    theirs = {
        (d["name"], frozenset({v["id"], *v["aliases"]}))
        for d in found["dependencies"]
        for v in d["vulns"]
    }
    assert theirs == {
        ("demo", frozenset({"GHSA-demo-demo-demo", "CVE-2025-1"})),
        ("demo", frozenset({"PYSEC-2025-9", "CVE-2025-9"})),
        ("evil", frozenset({"MAL-2026-42"})),
    }
    assert ours == {"GHSA-demo-demo-demo", "PYSEC-2025-9", "MAL-2026-42"}
    fixes = {
        i: v["fix_versions"]
        for d in found["dependencies"]
        for v in d["vulns"]
        for i in (v["id"], *v["aliases"])
    }
    assert fixes["CVE-2025-1"] == ["1.1"] and fixes["CVE-2025-9"] == ["1.2"]
