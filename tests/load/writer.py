"""The writer side of the load test: a local upstream whose projects keep gaining versions,
synced into the store again and again, and private uploads in between, until a deadline.

Run by ``tests/load/run.py`` as a subprocess, so its CPU and event loop are its own:
``python -m tests.load.writer STORAGE SECONDS REPORT``. Writes a JSON summary to REPORT.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import anyio

from blobpi.mirror.ops.publish import publish
from blobpi.mirror.store.local import LocalStore
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.io.apply import run_sync
from tests.support.dists import build_wheel
from tests.support.syncconfig import sync_config
from tests.support.upstream import LocalUpstream

MIRRORED = 5  # projects the sync mirrors; each gains a version per round
PAUSE = 0.5  # seconds between rounds: a busy index, not a CPU hog on a small machine


async def _rounds(storage: Path, seconds: float, work: Path) -> dict[str, int]:
    counts = {"sync_runs": 0, "files_synced": 0, "uploads": 0, "sync_failures": 0}
    deadline = time.monotonic() + seconds
    with LocalUpstream.start() as upstream:
        pins: list[str] = []
        config = sync_config(upstream, timeout=10.0, backoff=0.05)
        async with LocalStore(storage) as store:
            round_ = 0
            while time.monotonic() < deadline:
                for i in range(MIRRORED):
                    wheel = build_wheel(
                        work / "up", f"churn{i}", f"1.{round_}", payload_bytes=20_000
                    )
                    pins.append(upstream.add(wheel).pin)
                report = await run_sync(store, config, parse_allowlist("\n".join(pins) + "\n"))
                counts["sync_runs"] += 1
                counts["files_synced"] += len(report.added)
                counts["sync_failures"] += len(report.failed)
                private = build_wheel(work / "private", "live", f"1.{round_}", payload_bytes=5_000)
                with private.open("rb") as f:
                    await publish(store, private.name, f, max_bytes=10**7)
                counts["uploads"] += 1
                round_ += 1
                await anyio.sleep(PAUSE)
    return counts


def main() -> None:
    storage, seconds, report = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
    counts = anyio.run(_rounds, storage, seconds, report.parent / "writer-work")
    report.write_text(json.dumps(counts))


if __name__ == "__main__":
    main()
