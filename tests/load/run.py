"""The bounded load test: many concurrent clients against ``blobpi serve`` on 127.0.0.1 while
a sync and uploads write, for a fixed time. ``make load`` (200 clients, 60 s), ``make soak``
(the same for ``SOAK_SECONDS``).

Clients mix the root page, project pages (JSON and HTML), PEP 658 ``.metadata`` and file
downloads, following what the pages list; every download is hashed and compared with the
sha256 the page stated. An error is any answer other than 200/304, a listed page or file
that is missing, a hash that differs, or a failed connection. The server's RSS is sampled
every second. Exit 0 only with zero errors and a flat RSS; the summary (requests, p50/p99
per kind, RSS) is printed and written as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import httpx

from blobpi.mirror.ops.publish import publish
from blobpi.mirror.store.local import LocalStore
from tests.support.dists import build_wheel
from tests.support.processes import Server

_JSON = "application/vnd.pypi.simple.v1+json"
SEED_PROJECTS = 30
RSS_SLACK = 1.15, 8 * 1024 * 1024  # flat: the last quarter within 15% + 8 MiB of the second


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.bytes = 0
        self.requests = 0  # HTTP requests sent (an HTML page operation sends two)

    def record(self, kind: str, seconds: float, requests: int = 1) -> None:
        self.latency[kind].append(seconds)
        self.requests += requests

    def error(self, text: str) -> None:
        if len(self.errors) < 50:  # the first ones say enough
            self.errors.append(text)
        else:
            self.errors.append("")


async def _seed(storage: Path, work: Path) -> None:
    async with LocalStore(storage) as store:
        await store.ensure()
        for i in range(SEED_PROJECTS):
            for version in ("1.0", "1.1"):
                size = 1_000_000 if i % 10 == 0 else 30_000  # a few larger downloads
                wheel = build_wheel(work, f"seed{i}", version, payload_bytes=size)
                with wheel.open("rb") as f:
                    await publish(store, wheel.name, f, max_bytes=10**8)


async def _client(
    http: httpx.AsyncClient, base: str, stats: Stats, deadline: float, seed: int
) -> None:
    rng = random.Random(seed)
    projects: list[str] = []
    while time.monotonic() < deadline:
        try:
            if not projects or rng.random() < 0.05:
                started = time.monotonic()
                root = await http.get(f"{base}/simple/", headers={"Accept": _JSON})
                stats.record("root", time.monotonic() - started)
                if root.status_code != 200:
                    stats.error(f"/simple/: {root.status_code}")
                    continue
                projects = [p["name"] for p in root.json()["projects"]]
            name = rng.choice(projects)
            accept = rng.choice([_JSON, "text/html"])
            started = time.monotonic()
            page = await http.get(f"{base}/simple/{name}/", headers={"Accept": _JSON})
            if accept == "text/html":  # both formats are served; the JSON names the files
                html = await http.get(f"{base}/simple/{name}/", headers={"Accept": accept})
                if html.status_code != 200:
                    stats.error(f"/simple/{name}/ (html): {html.status_code}")
            stats.record("page", time.monotonic() - started, 1 + (accept == "text/html"))
            if page.status_code != 200:
                stats.error(f"/simple/{name}/ listed in the root, answered {page.status_code}")
                continue
            files = page.json()["files"]
            if not files:
                continue
            file = rng.choice(files)
            url = httpx.URL(f"{base}/simple/{name}/").join(file["url"])
            if file.get("core-metadata") and rng.random() < 0.5:
                started = time.monotonic()
                metadata = await http.get(f"{url}.metadata")
                stats.record("metadata", time.monotonic() - started)
                expected = file["core-metadata"].get("sha256")
                if metadata.status_code != 200:
                    stats.error(f"{url}.metadata: {metadata.status_code}")
                elif expected and hashlib.sha256(metadata.content).hexdigest() != expected:
                    stats.error(f"{url}.metadata: bytes differ from the page's hash")
                continue
            started = time.monotonic()
            digest, size = hashlib.sha256(), 0
            async with http.stream("GET", str(url)) as download:
                async for chunk in download.aiter_bytes():
                    digest.update(chunk)
                    size += len(chunk)
            stats.record("download", time.monotonic() - started)
            stats.bytes += size
            if download.status_code != 200:
                stats.error(f"{url}: {download.status_code}")
            elif digest.hexdigest() != file["hashes"]["sha256"]:
                stats.error(f"{url}: bytes differ from the page's sha256")
        except httpx.HTTPError as e:
            stats.error(f"{type(e).__name__} on {e.request.url}: {e}")


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def _sample_rss(pid: int, deadline: float, samples: list[int]) -> None:
    while time.monotonic() < deadline:
        samples.append(_rss(pid))
        await asyncio.sleep(1.0)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _rss_flat(samples: list[int]) -> bool:
    quarter = max(1, len(samples) // 4)
    baseline = statistics.median(samples[quarter : 2 * quarter] or samples)
    return max(samples[-quarter:]) <= baseline * RSS_SLACK[0] + RSS_SLACK[1]


async def _load(base: str, pid: int, clients: int, seconds: float) -> dict[str, Any]:
    stats, samples = Stats(), list[int]()
    deadline = time.monotonic() + seconds
    # Idle connections are dropped before the server's keep-alive timeout (uvicorn: 5 s), so
    # a request never goes out on a connection the server is closing at that moment (a race
    # every HTTP client has, and pip's retries cover; here it would count as an error).
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        async with anyio.create_task_group() as group:
            group.start_soon(_sample_rss, pid, deadline, samples)
            for seed in range(clients):
                group.start_soon(_client, http, base, stats, deadline, seed)
    requests = stats.requests
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1),
        "bytes_downloaded": stats.bytes,
        "errors": len(stats.errors),
        "first_errors": [e for e in stats.errors if e][:10],
        "latency_ms": {
            kind: {
                "count": len(values),
                "p50": round(_percentile(values, 0.50) * 1000, 1),
                "p99": round(_percentile(values, 0.99) * 1000, 1),
                "max": round(max(values) * 1000, 1),
            }
            for kind, values in sorted(stats.latency.items())
        },
        "rss_mib": {
            "start": round(samples[0] / 2**20, 1) if samples else 0,
            "max": round(max(samples) / 2**20, 1) if samples else 0,
            "end": round(samples[-1] / 2**20, 1) if samples else 0,
        },
        "rss_flat": _rss_flat(samples) if samples else False,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, help="write the summary here as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="blobpi-load-") as tmp_dir:
        tmp = Path(tmp_dir)
        storage = tmp / "data"
        anyio.run(_seed, storage, tmp / "dists")
        writer_report = tmp / "writer.json"
        with Server.start(str(storage), {"BLOBPI_PAGE_TTL": "1"}, tmp) as server:
            writer = subprocess.Popen(
                [sys.executable, "-m", "tests.load.writer", str(storage), str(args.seconds)]
                + [str(writer_report)]
            )
            try:
                summary = anyio.run(
                    _load, server.url, server.process.pid, args.clients, args.seconds
                )
            finally:
                writer.wait(timeout=args.seconds + 120)
            summary["writer"] = (
                json.loads(writer_report.read_text())
                if writer.returncode == 0
                else {"exit": writer.returncode}
            )
            summary["server_errors_logged"] = server.log.read_text().count("Traceback")
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    ok = (
        summary["errors"] == 0
        and summary["rss_flat"]
        and summary["server_errors_logged"] == 0
        and summary["writer"].get("sync_runs", 0) > 0
        and summary["writer"].get("sync_failures", 1) == 0
    )
    print("load: PASS" if ok else "load: FAIL", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
