"""Fixtures: a session-wide Azurite, and a fresh store (local directory or Azurite container)
per test, reachable both in-process (``store.open()``) and by spec for subprocesses."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from blobpi.mirror.store.protocol import BlobStore, open_store
from tests.support.processes import Azurite


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--live", action="store_true", help="run tests against the real upstream")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live"):
        return
    skip = pytest.mark.skip(reason="talks to the real upstream: run with --live")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite.start() as running:
        yield running


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclasses.dataclass(frozen=True)
class StoreSpec:
    """How to reach one test's store: ``--storage`` and the environment it needs."""

    kind: str
    spec: str
    environ: dict[str, str]

    def open(self) -> BlobStore:
        return open_store(self.spec, self.environ.get("AZURE_STORAGE_CONNECTION_STRING"))


@pytest.fixture(params=["local", pytest.param("azurite", marks=pytest.mark.azurite)])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    if request.param == "local":
        return StoreSpec("local", str(tmp_path / "data"), {})
    running: Azurite = request.getfixturevalue("azurite")
    return StoreSpec(
        "azurite",
        running.new_container_url(),
        {"AZURE_STORAGE_CONNECTION_STRING": running.connection_string},
    )


@pytest.fixture
async def store(store_spec: StoreSpec) -> AsyncIterator[BlobStore]:
    async with store_spec.open() as opened:
        await opened.ensure()
        yield opened
