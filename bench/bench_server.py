"""Benchmark the index server against peers on this machine, in one run, and print ratios.

1. Requests/s for one project page with 1,200 files (PEP 503 HTML, as pip's fallback reads
   it, and PEP 691 JSON), loaded by wrk over loopback for a fixed time, for:
   blobpi (uvicorn, one worker, LocalStore), pypiserver 2.x (`--server auto`: waitress;
   it lists its package directory per request) and a static file server (Python's
   http.server, a floor for serving the same bytes).
2. Peak RSS of the blobpi server while a 1 GiB file is downloaded through it.

Run: ``make bench`` (installs wrk from Debian and the peers into bench/out/peers-venv).
Traffic goes to 127.0.0.1 only, bounded by wrk's duration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
from packaging.utils import canonicalize_name

from blobpi.mirror.core.layout import content_path, page_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.store.local import LocalStore
from blobpi.mirror.store.pages import update_project, update_root

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
PROJECT = canonicalize_name("bench-project")
GIB = 1024**3


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(args: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[int]:
    process = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{args[0]} did not start")
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wrk(url: str, seconds: int, accept: str) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "-H", f"Accept: {accept}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if match is None or non_2xx:
        raise RuntimeError(f"wrk failed against {url}:\n{out}")
    return float(match.group(1))


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


async def _fill_store(store: LocalStore, files: int, packages_dir: Path) -> None:
    entries = []
    now = dt.datetime.now(dt.UTC)
    for i in range(files):
        version = f"1.{i // 4}.{i % 4}"
        filename = f"bench_project-{version}-py3-none-any.whl"
        digest = hashlib.sha256(filename.encode()).hexdigest()
        (packages_dir / filename).write_bytes(b"x")  # what pypiserver lists
        entries.append(
            File.stored(
                content_path(digest, filename),
                filename=filename,
                hashes={"sha256": digest},
                requires_python=">=3.8",
                size=1,
                upload_time=now,
                core_metadata={"sha256": digest},
            )
        )
    page = ProjectPage.build(
        PROJECT, entries, [e.filename.split("-")[1] for e in entries], origin="private"
    )
    await update_project(store, PROJECT, lambda _: page)
    await update_root(store, lambda p: ProjectList.of([*p.projects, PROJECT]))


async def _chunks(total: int) -> AsyncIterator[bytes]:
    block = os.urandom(4 * 1024 * 1024)
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


def _peers_python() -> Path:
    venv = OUT / "peers-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "pypiserver>=2.4", "waitress"], check=True
        )
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per run")
    parser.add_argument("--files", type=int, default=1200)
    parser.add_argument("--stream-bytes", type=int, default=GIB)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk not found: apt-get install wrk (make bench does it)")
    OUT.mkdir(parents=True, exist_ok=True)
    peers = _peers_python()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        data, packages = Path(tmp) / "data", Path(tmp) / "packages"
        packages.mkdir()
        store = LocalStore(data)
        anyio.run(_fill_store, store, args.files, packages)
        page_bytes = (data / page_path(PROJECT, Format.HTML)).stat().st_size

        rates: dict[str, float] = {}
        port = _port()
        url = f"http://127.0.0.1:{port}"
        with _serving(
            [str(BIN / "blobpi"), "serve", "--storage", str(data), "--port", str(port)],
            f"{url}/health",
            {"BLOBPI_PAGE_TTL": "2"},
        ):
            for fmt, accept in (
                ("html", "text/html"),
                ("json", "application/vnd.pypi.simple.v1+json"),
            ):
                rates[f"blobpi {fmt}"] = _wrk(f"{url}/simple/{PROJECT}/", args.seconds, accept)
        port = _port()
        url = f"http://127.0.0.1:{port}"
        with _serving(
            [
                str(peers),
                "-m",
                "pypiserver",
                "run",
                "-p",
                str(port),
                "-a",
                ".",
                "-P",
                ".",
                "-i",
                "127.0.0.1",
                "--server",
                "auto",
                str(packages),
            ],
            f"{url}/simple/",
        ):
            rates["pypiserver html"] = _wrk(f"{url}/simple/{PROJECT}/", args.seconds, "text/html")
        port = _port()
        url = f"http://127.0.0.1:{port}"
        with _serving(
            [
                sys.executable,
                "-m",
                "http.server",
                str(port),
                "--bind",
                "127.0.0.1",
                "--directory",
                str(data),
            ],
            f"{url}/",
        ):
            rates["http.server static html"] = _wrk(
                f"{url}/{page_path(PROJECT, Format.HTML)}", args.seconds, "text/html"
            )
        results["page_bytes"] = page_bytes
        results["requests_per_second"] = rates
        results["ratios"] = {
            "blobpi html / pypiserver html": rates["blobpi html"] / rates["pypiserver html"],
            "blobpi html / http.server static": rates["blobpi html"]
            / rates["http.server static html"],
        }

        # Memory while streaming a large file through the server.
        big = content_path("0" * 64, "big-1.0-py3-none-any.whl")
        anyio.run(lambda: store.put(big, _chunks(args.stream_bytes)))
        port = _port()
        url = f"http://127.0.0.1:{port}"
        with _serving(
            [str(BIN / "blobpi"), "serve", "--storage", str(data), "--port", str(port)],
            f"{url}/health",
        ) as pid:
            idle = _peak_rss_kib(pid)
            started = time.monotonic()
            received = 0
            with httpx.stream("GET", f"{url}/{big}", timeout=120) as response:
                for chunk in response.iter_raw(1024 * 1024):
                    received += len(chunk)
            elapsed = time.monotonic() - started
            peak = _peak_rss_kib(pid)
        assert received == args.stream_bytes, received
        results["stream"] = {
            "bytes": received,
            "seconds": round(elapsed, 2),
            "MiB_per_s": round(received / 2**20 / elapsed, 1),
            "server_peak_rss_MiB_before": round(idle / 1024, 1),
            "server_peak_rss_MiB_after": round(peak / 1024, 1),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
