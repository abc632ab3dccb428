"""BlobReader: a stored blob read by ranges gives the same bytes as the file, and a wheel's
METADATA costs a few ranged reads, not the whole wheel (local store and Azurite)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import anyio.to_thread
import pytest

from blobpi.mirror.core.distribution import inspect_distribution
from blobpi.mirror.store.local import LocalStore
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.reader import WINDOW, BlobReader
from tests.support.dists import build_wheel

pytestmark = pytest.mark.anyio
PAYLOAD = 3 * WINDOW  # a wheel of several windows (under the 1 MiB one-shot body of aiohttp)


async def _stored_wheel(store: BlobStore, tmp_path: Path) -> tuple[str, bytes]:
    wheel = build_wheel(tmp_path, "demo", "1.0", requires=["attrs"], payload_bytes=PAYLOAD)
    data = wheel.read_bytes()
    await store.put(f"packages/{wheel.name}", data)
    return f"packages/{wheel.name}", data


async def test_reader__wheel_metadata_in_a_few_ranges(store: BlobStore, tmp_path: Path) -> None:
    path, data = await _stored_wheel(store, tmp_path)
    reader = BlobReader(store, path, len(data))
    name = path.rpartition("/")[2]
    inspected = await anyio.to_thread.run_sync(
        inspect_distribution, name, io.BufferedReader(reader)
    )
    assert inspected.metadata == inspect_distribution(name, io.BytesIO(data)).metadata
    assert b"Requires-Dist: attrs" in inspected.metadata
    assert 1 <= reader.fetches <= 3  # the end record, directory and METADATA share windows


async def test_reader__seeks_and_reads_the_stored_bytes(store: BlobStore, tmp_path: Path) -> None:
    path, data = await _stored_wheel(store, tmp_path)
    size = len(data)
    reads = [(0, 10), (size - 5, 100), (1000, 2 * WINDOW + 7), (size, 1), (WINDOW - 3, 6)]

    def _read() -> list[bytes]:
        file = io.BufferedReader(BlobReader(store, path, size))
        found = []
        for position, length in reads:
            assert file.seek(position) == position
            found.append(file.read(length))
        file.seek(-4, io.SEEK_END)
        found.append(file.read())
        return found

    got = await anyio.to_thread.run_sync(_read)
    assert got == [data[p : p + n] for p, n in reads] + [data[-4:]]
    with pytest.raises(ValueError, match="negative seek"):
        BlobReader(store, path, size).seek(-1)


def test_reader__a_stopped_command_ends_the_parser_at_its_next_read(tmp_path: Path) -> None:
    """A cancelled scope (``cli/interrupt.py`` on Ctrl-C or SIGTERM) whose cancellation anyio
    delivered while the parser's thread was busy: its next read ends it, not a hop to the
    event loop that no cancellation ever reaches (which spun there forever)."""
    busy, go = threading.Event(), threading.Event()
    caught: list[bool] = []

    async def _main() -> None:
        store = LocalStore(tmp_path / "data")
        await store.ensure()
        path, data = await _stored_wheel(store, tmp_path)
        file = io.BufferedReader(BlobReader(store, path, len(data)))

        def _parse() -> object:
            busy.set()
            go.wait()  # parsing, as far as the event loop can tell
            return inspect_distribution(path.rpartition("/")[2], file)

        async def _job(scope: anyio.CancelScope) -> None:
            with scope:
                await anyio.to_thread.run_sync(_parse)
            caught.append(scope.cancelled_caught)

        async with anyio.create_task_group() as tasks:
            scope = anyio.CancelScope()
            tasks.start_soon(_job, scope)
            while not busy.is_set():
                await anyio.sleep(0.01)
            scope.cancel()
            for _ in range(10):  # anyio finds no task it can cancel, and stops delivering
                await anyio.sleep(0)
            go.set()

    run = threading.Thread(target=anyio.run, args=(_main,), daemon=True)
    run.start()
    run.join(60)  # generous: it ends at once, or never
    assert not run.is_alive(), "the parser's thread hung in a read after the cancellation"
    assert caught == [True]
