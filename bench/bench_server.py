"""Benchmark the index server against its peers on one corpus, and print one table.

Each server runs alone on core 0, wrk (``-t2 -c32``) on core 1: blobpi under granian and
under uvicorn (LocalStore, and granian on Azurite), nginx serving the store's pre-rendered
tree as static files (the limit; ``gzip_static``), pypiserver 2.x (waitress, cached-dir),
simple-repository-server (a local directory) and proxpi (gunicorn, one worker, caching the
nginx tree). Rows: the root page (10,000 projects), a small page, a 5,000-file page and a
40,000-file page (JSON and HTML, identity and gzip), a ``.metadata`` file and a 16 MiB
download; on Azurite also with ``BLOBPI_DOWNLOADS=redirect``, whose download rows are the
redirect alone (wrk) and the whole download with it followed (``curl -L``). Each cell: req/s,
server CPU ms per request, p50/p99. devpi-server runs a mirror index over the nginx tree,
warmed (``bench/peers.py`` says why). Results:
``bench/results/server-<time>.json`` and ``.md``.

    .venv/bin/python bench/bench_server.py [--seconds 5] [--only devpi-server,nginx] [--settle 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.azurite import corpus_on_azurite  # noqa: E402
from bench.corpus import Corpus, build  # noqa: E402
from bench.load import Result, Served, free_port, serving  # noqa: E402
from bench.peers import PEERS, nginx, peer_python  # noqa: E402

OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
JSON, HTML = "application/vnd.pypi.simple.v1+json", "text/html"
GZ = {"Accept-Encoding": "gzip"}

# (row, path or "{big}"/"{metadata}", headers)
ROWS: list[tuple[str, str, dict[str, str]]] = [
    ("root (10k projects) JSON gzip", "/simple/", {"Accept": JSON, **GZ}),
    ("root (10k projects) HTML gzip", "/simple/", {"Accept": HTML, **GZ}),
    ("small page JSON", "/simple/small/", {"Accept": JSON}),
    ("small page HTML gzip", "/simple/small/", {"Accept": HTML, **GZ}),
    ("5k-file page JSON gzip", "/simple/big5k/", {"Accept": JSON, **GZ}),
    ("5k-file page JSON identity", "/simple/big5k/", {"Accept": JSON}),
    ("5k-file page HTML gzip", "/simple/big5k/", {"Accept": HTML, **GZ}),
    ("40k-file page JSON gzip", "/simple/big40k/", {"Accept": JSON, **GZ}),
    ("40k-file page HTML identity", "/simple/big40k/", {"Accept": HTML}),
    (".metadata", "{metadata}", {}),
    ("16 MiB download", "{big}", {}),
    # on Azurite: whole downloads by curl -L, 8 at a time, streamed or with the redirect to a
    # read SAS followed (where downloads redirect, the row above is the redirect alone)
    ("16 MiB download, curl -L x8", "{big}", {"follow": "1"}),
]


def _file_urls(served: Served, corpus: Corpus) -> dict[str, str]:
    """Where this server links the 16 MiB file and its .metadata (each server has its own
    URL scheme): from its small page, as pip finds them."""
    small = f"{served.url}{served.prefix}small/"
    page = httpx.get(small, headers={"Accept": HTML}, timeout=30)
    filename = corpus.big_path.rsplit("/", 1)[1]
    href = re.search(rf'href="([^"#]*{re.escape(filename)})[#"]', page.text)
    if href is None:
        return {}
    url = httpx.URL(small).join(href[1])
    path = url.raw_path.decode()
    urls = {"{big}": path}
    metadata = httpx.get(f"{served.url}{path}.metadata", timeout=30, follow_redirects=True)
    if metadata.status_code == 200:
        urls["{metadata}"] = f"{path}.metadata"
    return urls


def _measure(
    served: Served, corpus: Corpus, seconds: int, settle: float = 0
) -> dict[str, Result | None]:
    urls = _file_urls(served, corpus)
    results: dict[str, Result | None] = {}
    for row, path, headers in ROWS:
        target = urls.get(path) if path.startswith("{") else path.replace("/simple/", served.prefix)
        # where downloads redirect, only the file rows differ from the column without
        pages_again = served.redirects and not path.startswith("{")
        if target is None or pages_again or ("follow" in headers and not served.follows):
            results[row] = None
            continue
        if settle:  # a slow server's unanswered requests are then not the next row's cost
            served.settle(settle)
        if "follow" in headers:
            served.follow(target, 1)  # warm: the first URL of this bucket is signed
            results[row] = served.follow(target, seconds)
            print(f"  {served.name:28} {row:32} {_cell(results[row])}", flush=True)
            continue
        try:  # warm: caches filled, pages compressed; a first answer may take long
            httpx.get(served.url + target, headers=headers, timeout=30)
        except httpx.TimeoutException:
            results[row] = None
            continue
        served.load(target, headers, 1)
        results[row] = served.load(target, headers, seconds)
        print(f"  {served.name:28} {row:32} {_cell(results[row])}", flush=True)
    return results


def _cell(result: Result | None) -> str:
    if result is None:
        return "n/a"
    if result.rps == 0:
        return "timeout (no answer in 10 s)"
    errors = f" ({result.errors} errors)" if result.errors else ""
    return (
        f"{result.rps:,.0f}/s ({result.mb_per_s:,.0f} MB/s), {result.cpu_ms:.3f} ms CPU, "
        f"p50 {result.p50_ms:.1f} / p99 {result.p99_ms:.1f} ms{errors}"
    )


Start = Callable[[], AbstractContextManager[Served]]


def _servers(corpus: Corpus, azurite: tuple[str, str] | None) -> Iterator[tuple[str, Start]]:
    env = {"BLOBPI_PAGE_TTL": "60", "BLOBPI_ANONYMOUS_READ": "1", "BLOBPI_ACCESS_LOG": "0"}
    for stack in ("granian", "uvicorn"):
        yield f"blobpi-{stack}", _blobpi(f"blobpi ({stack})", str(corpus.store_dir), stack, env)
    if azurite is not None:
        on_azurite = {**env, "AZURE_STORAGE_CONNECTION_STRING": azurite[1]}
        yield (
            "blobpi-granian-azurite",
            _blobpi("blobpi (granian, Azurite)", azurite[0], "granian", on_azurite, follows=True),
        )
        redirect = {**on_azurite, "BLOBPI_DOWNLOADS": "redirect"}
        yield (
            "blobpi-granian-azurite-redirect",
            _blobpi(
                "blobpi (granian, Azurite, redirect)",
                azurite[0],
                "granian",
                redirect,
                redirects=True,
            ),
        )
    yield "nginx", partial(nginx, corpus, OUT)
    for name, peer in PEERS.items():
        yield name, partial(_peer, peer, corpus, name)


def _blobpi(
    label: str,
    storage: str,
    stack: str,
    env: dict[str, str],
    *,
    redirects: bool = False,
    follows: bool = False,
) -> Start:
    """``blobpi serve`` on a free port, on one server stack."""
    port = free_port()
    args = [str(BIN / "blobpi"), "serve", "--storage", storage, "--port", str(port)]
    args += ["--server", stack]
    return partial(serving, label, args, port, "/health", env, redirects=redirects, follows=follows)


def _peer(
    peer: Callable[[Corpus, Path], AbstractContextManager[Served]], corpus: Corpus, name: str
) -> AbstractContextManager[Served]:
    return peer(corpus, peer_python(name, OUT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per cell")
    parser.add_argument("--root-projects", type=int, default=10_000)
    parser.add_argument("--only", help="comma-separated server names")
    parser.add_argument("--no-azurite", action="store_true")
    parser.add_argument(
        "--settle", type=float, default=0, help="wait up to N s for an idle server per row"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        sys.exit("bench: wrk and nginx are needed: apt-get install wrk nginx (make bench does)")
    corpus = Corpus(OUT / "corpus")
    anyio.run(build, corpus, args.root_projects)
    load = os.getloadavg()
    only = set(args.only.split(",")) if args.only else None
    table: dict[str, dict[str, Result | None]] = {}
    skip_azurite = args.no_azurite or (only is not None and not any("azurite" in o for o in only))
    with corpus_on_azurite(corpus, skip_azurite) as azurite:
        for name, start in _servers(corpus, azurite):
            if only is not None and name not in only:
                continue
            print(f"bench: {name}", flush=True)
            with start() as served:
                table[name] = _measure(served, corpus, args.seconds, args.settle)
    _report(table, load, os.getloadavg(), args.seconds)


def _report(
    table: dict[str, dict[str, Result | None]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    seconds: int,
) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    names = list(table)
    lines = [
        f"Server benchmark {stamp}: each server alone on core 0, wrk -t2 -c32 -d{seconds}s on "
        f"core 1; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after. "
        "Cells: req/s (MB/s for downloads), server CPU ms per request, p50 / p99.",
        "",
        "| row | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for row, _, _ in ROWS:
        lines.append(f"| {row} | " + " | ".join(_cell(table[n].get(row)) for n in names) + " |")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"server-{stamp}.md").write_text(text)
    raw = {n: {r: (vars(v) if v else None) for r, v in rows.items()} for n, rows in table.items()}
    (RESULTS / f"server-{stamp}.json").write_text(
        json.dumps(
            {"load": [load_before, load_after], "seconds": seconds, "servers": raw}, indent=1
        )
    )
    print(text)


if __name__ == "__main__":
    main()
