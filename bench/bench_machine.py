"""Benchmark the index per machine: granian with one worker and with one per core, against
nginx with as many workers, every server and wrk sharing all the cores.

``bench_server.py`` measures per core (server on core 0, load on core 1). Here the server
gets the whole machine and so does the load generator (``wrk -t2 -c64``), as on a host that
only serves: the figure is what the machine answers, and the ratio to nginx's says how much
of it the server stack leaves on the table. On 2 cores wrk takes a good share of them, so
the absolute figures are low for everyone; the ratios are the point. Results:
``bench/results/machine-<time>.json`` and ``.md``.

    .venv/bin/python bench/bench_machine.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_server import GZ, JSON, OUT, _file_urls  # noqa: E402
from bench.corpus import Corpus, build  # noqa: E402
from bench.load import MACHINE, Result, Served, free_port, serving  # noqa: E402
from bench.peers import nginx  # noqa: E402
from bench.recording import save_servers, stamp  # noqa: E402
from bench.recording import table as markdown  # noqa: E402

BIN = Path(sys.executable).parent
CORES = len(MACHINE.split(","))
CONNECTIONS = 64
ROWS: list[tuple[str, str, dict[str, str]]] = [
    ("root (10k projects) JSON gzip", "/simple/", {"Accept": JSON, **GZ}),
    ("small page JSON", "/simple/small/", {"Accept": JSON}),
    ("5k-file page JSON gzip", "/simple/big5k/", {"Accept": JSON, **GZ}),
    ("16 MiB download", "{big}", {}),
]
Start = Callable[[], AbstractContextManager[Served]]


def _servers(corpus: Corpus) -> Iterator[tuple[str, Start]]:
    env = {"BLOBPI_PAGE_TTL": "60", "BLOBPI_ANONYMOUS_READ": "1", "BLOBPI_ACCESS_LOG": "0"}
    for workers in (1, CORES):
        port = free_port()
        args = [str(BIN / "blobpi"), "serve", "--storage", str(corpus.store_dir)]
        args += ["--port", str(port), "--server", "granian", "--workers", str(workers)]
        label = f"blobpi granian, {workers} worker{'s' if workers > 1 else ''}"
        yield label, partial(serving, label, args, port, "/health", env, cpus=MACHINE)
    yield f"nginx, {CORES} workers", partial(nginx, corpus, OUT, CORES, MACHINE)


def _measure(served: Served, corpus: Corpus, seconds: int) -> dict[str, Result]:
    urls = _file_urls(served, corpus)
    results = {}
    for row, path, headers in ROWS:
        target = urls[path] if path.startswith("{") else path
        for _ in range(2 * CORES):  # every worker's cache filled and its page compressed
            httpx.get(served.url + target, headers=headers, timeout=30)
        served.load(target, headers, 1, CONNECTIONS)
        results[row] = served.load(target, headers, seconds, CONNECTIONS)
        print(f"  {served.name:28} {row:32} {_cell(results[row])}", flush=True)
    return results


def _cell(result: Result, limit: Result | None = None) -> str:
    ratio = f" ({result.rps / limit.rps:.2f}x nginx)" if limit and limit.rps else ""
    return (
        f"{result.rps:,.0f}/s{ratio} ({result.mb_per_s:,.0f} MB/s), {result.cpu_ms:.3f} ms CPU, "
        f"p99 {result.p99_ms:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per cell")
    parser.add_argument("--root-projects", type=int, default=10_000)
    args = parser.parse_args()
    corpus = Corpus.at(OUT, args.root_projects)
    anyio.run(build, corpus, args.root_projects)
    before = os.getloadavg()
    table: dict[str, dict[str, Result]] = {}
    for name, start in _servers(corpus):
        with start() as served:
            table[name] = _measure(served, corpus, args.seconds)
    _report(table, before, os.getloadavg(), args.seconds)


def _report(
    table: dict[str, dict[str, Result]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    seconds: int,
) -> None:
    when = stamp()
    names = list(table)
    limit = table[names[-1]]  # nginx
    head = (
        f"Machine benchmark {when}: servers and wrk -t2 -c{CONNECTIONS} -d{seconds}s sharing "
        f"cores {MACHINE}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after. "
        "Cells: req/s (and x nginx), server CPU ms per request (all its processes), p99."
    )
    rows = [
        (row, [_cell(table[n][row], limit[row] if n != names[-1] else None) for n in names])
        for row, _, _ in ROWS
    ]
    text = markdown(head, names, rows)
    raw = {n: {r: vars(v) for r, v in found.items()} for n, found in table.items()}
    save_servers("machine", when, (load_before, load_after), seconds, raw, text)
    print(text)


if __name__ == "__main__":
    main()
