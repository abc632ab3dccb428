"""Benchmark writes: ``blobpi upload`` of one project's N wheels in one command, which
stores every file and then renders the project's pages once (``ops.publish.Batch``), so
the time is linear in N. Prints files/s for each N; results in bench/results/.

    .venv/bin/python bench/bench_writes.py [--files 1000 5000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.recording import save, stamp  # noqa: E402
from tests.support.dists import build_wheel  # noqa: E402

BIN = Path(sys.executable).parent


def _upload(files: int, tmp: Path) -> dict[str, float]:
    wheels = [build_wheel(tmp / "dist", "writes-bench", f"1.{i}") for i in range(files)]
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "blobpi"), "upload", "--storage", str(tmp / "data"), *map(str, wheels)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("BLOBPI_")},
    )
    seconds = time.perf_counter() - started
    return {"files": files, "seconds": round(seconds, 2), "files_per_s": round(files / seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args()
    rows = []
    for files in args.files:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(_upload(files, Path(tmp)))
        print(f"blobpi upload, {files} files of one project: {rows[-1]}", flush=True)
    save("writes", stamp(), {"load": os.getloadavg(), "upload": rows})


if __name__ == "__main__":
    main()
