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
warmed (``bench/peers.py`` says why). Then, on each server but the Azurite ones, first on
the fresh server: the wall time of ``pip install --dry-run`` and ``uv pip install --dry-run``
of the corpus (``bench/resolve.py``), and its ratio to nginx's. Results:
``bench/results/server-<time>.json`` and ``.md``.

What bounds its time: one wrk warm-up per server, and a server that leaves a project page
unanswered within wrk's 10 s timeout is not asked for bigger pages ("no answer in 10 s (not
run ...)"); the next row it runs waits up to ``--backlog`` s for it to finish what it still
computes. The peers install while the corpus is written, and the corpus is reused while its
parameters and code are the same (``bench/corpus.py``).

    .venv/bin/python bench/bench_server.py [--seconds 3] [--only devpi-server,nginx]
        [--no-azurite] [--no-resolve] [--settle 60] [--backlog 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from pathlib import Path

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.azurite import corpus_on_azurite  # noqa: E402
from bench.corpus import PROJECTS, Corpus, build  # noqa: E402
from bench.load import WRK_TIMEOUT, Result, Served, free_port, serving  # noqa: E402
from bench.peers import PEERS, nginx, peer_python  # noqa: E402
from bench.recording import save_servers, stamp  # noqa: E402
from bench.recording import table as markdown  # noqa: E402
from bench.resolve import RESOLVE_ROWS, RESOLVE_RUNS, Resolved, seconds_cell  # noqa: E402
from bench.resolve import resolves as resolves_of  # noqa: E402

OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent
JSON, HTML = "application/vnd.pypi.simple.v1+json", "text/html"
GZ = {"Accept-Encoding": "gzip"}

# (row, path or "{big}"/"{metadata}", headers, entries on the page: pages only)
ROWS: list[tuple[str, str, dict[str, str], int | None]] = [
    ("root (10k projects) JSON gzip", "/simple/", {"Accept": JSON, **GZ}, 10_000),
    ("root (10k projects) HTML gzip", "/simple/", {"Accept": HTML, **GZ}, 10_000),
    ("small page JSON", "/simple/small/", {"Accept": JSON}, PROJECTS["small"]),
    ("small page HTML gzip", "/simple/small/", {"Accept": HTML, **GZ}, PROJECTS["small"]),
    ("5k-file page JSON gzip", "/simple/big5k/", {"Accept": JSON, **GZ}, PROJECTS["big5k"]),
    ("5k-file page JSON identity", "/simple/big5k/", {"Accept": JSON}, PROJECTS["big5k"]),
    ("5k-file page HTML gzip", "/simple/big5k/", {"Accept": HTML, **GZ}, PROJECTS["big5k"]),
    ("40k-file page JSON gzip", "/simple/big40k/", {"Accept": JSON, **GZ}, PROJECTS["big40k"]),
    ("40k-file page HTML identity", "/simple/big40k/", {"Accept": HTML}, PROJECTS["big40k"]),
    (".metadata", "{metadata}", {}, None),
    ("16 MiB download", "{big}", {}, None),
    # on Azurite: whole downloads by curl -L, 8 at a time, streamed or with the redirect to a
    # read SAS followed (where downloads redirect, the row above is the redirect alone)
    ("16 MiB download, curl -L x8", "{big}", {"follow": "1"}, None),
]
NO_ANSWER = f"no answer in {WRK_TIMEOUT} s"
# the columns the resolve target compares (blobpi within 1.1x of nginx): pip runs twice there
LIMITS = {"nginx", "blobpi-granian", "blobpi-uvicorn"}


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
    served: Served, corpus: Corpus, args: argparse.Namespace, restart: Callable[[], Served]
) -> dict[str, Result | None]:
    """The load rows. After a row the server left unanswered, the next row measured waits
    up to ``--backlog`` s for it to go idle, or gets a restarted server; a page bigger than
    one it left unanswered is not run."""
    seconds, backlog = args.seconds, args.backlog
    urls = _file_urls(served, corpus)
    results: dict[str, Result | None] = {}
    unanswered: int | None = None  # entries on the smallest page with no answer
    warmed = behind = False
    for row, path, headers, files in ROWS:
        target = urls.get(path) if path.startswith("{") else path.replace("/simple/", served.prefix)
        # where downloads redirect, only the file rows differ from the column without
        pages_again = served.redirects and not path.startswith("{")
        if target is None or pages_again or ("follow" in headers and not served.follows):
            results[row] = None
            continue
        if files is not None and unanswered is not None and files >= unanswered:
            # a bigger page of a server that left a smaller one unanswered: it would only
            # burn the timeout and queue more work for the rows after
            skipped = f"{NO_ANSWER} (not run: a smaller page had none)"
            results[row] = Result.none(skipped)
            print(f"  {served.name:28} {row:32} {_cell(results[row])}", flush=True)
            continue
        if behind and not served.settle(backlog):  # what it still computes is not this row's
            served = restart()  # the same paths: a file's URL does not name the port
        elif args.settle:
            served.settle(args.settle)
        behind = False
        if "follow" in headers:
            served.follow(target, 1)  # warm: the first URL of this bucket is signed
            results[row] = served.follow(target, seconds)
            print(f"  {served.name:28} {row:32} {_cell(results[row])}", flush=True)
            continue
        if not _warm(served, target, headers, backlog):
            results[row] = Result.none(NO_ANSWER)
        else:
            if not warmed:  # connections, workers and buffers, once per server
                served.load(target, headers, 1)
                warmed = True
            results[row] = served.load(target, headers, seconds)
        result = results[row]
        print(f"  {served.name:28} {row:32} {_cell(result)}", flush=True)
        if result is not None and not result.answered:
            if files is not None:
                unanswered = min(files, unanswered or files)
            behind = True
    return results


def _warm(served: Served, target: str, headers: dict[str, str], backlog: float) -> bool:
    """One request first (caches filled, pages compressed), given as long as wrk gives one;
    once more after the server went idle, as a previous row may have kept it busy."""
    for attempt in range(2):
        try:
            httpx.get(served.url + target, headers=headers, timeout=WRK_TIMEOUT)
            return True
        except httpx.TimeoutException:
            if attempt == 0:
                served.settle(backlog)
    return False


def _cell(result: Result | None) -> str:
    if result is None:
        return "n/a"
    if result.note:
        return result.note
    if result.rps == 0:
        return NO_ANSWER
    errors = f" ({result.errors} errors)" if result.errors else ""
    if result.timeouts:
        errors += f" ({result.timeouts} with {NO_ANSWER})"
    return (
        f"{result.rps:,.0f}/s ({result.mb_per_s:,.0f} MB/s), {result.cpu_ms:.3f} ms CPU, "
        f"p50 {result.p50_ms:.1f} / p99 {result.p99_ms:.1f} ms{errors}"
    )


Start = Callable[[], AbstractContextManager[Served]]


def _servers(
    corpus: Corpus, azurite: tuple[str, str] | None, installs: dict[str, Future[Path]]
) -> Iterator[tuple[str, Start]]:
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
        if name in installs:
            yield name, partial(_peer, peer, corpus, installs[name])


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
    peer: Callable[[Corpus, Path], AbstractContextManager[Served]],
    corpus: Corpus,
    installed: Future[Path],
) -> AbstractContextManager[Served]:
    return peer(corpus, installed.result())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per cell")
    parser.add_argument("--root-projects", type=int, default=10_000)
    parser.add_argument("--only", help="comma-separated server names")
    parser.add_argument("--no-azurite", action="store_true")
    parser.add_argument("--no-resolve", action="store_true", help="skip the pip and uv rows")
    parser.add_argument(
        "--settle", type=float, default=0, help="wait up to N s for an idle server per row"
    )
    parser.add_argument(
        "--backlog",
        type=float,
        default=10,
        help="after a row with no answer, wait up to N s for the server to go idle",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        sys.exit("bench: wrk and nginx are needed: apt-get install wrk nginx (make bench does)")
    only = set(args.only.split(",")) if args.only else None
    started = time.monotonic()
    # the peers install (mostly waiting on the package index) while the corpus is written
    with ThreadPoolExecutor(max_workers=2) as pool:
        installs = {
            name: pool.submit(peer_python, name, OUT)
            for name in PEERS
            if only is None or name in only
        }
        corpus = Corpus.at(OUT, args.root_projects)
        anyio.run(build, corpus, args.root_projects)
        for future in installs.values():
            future.result()
    print(f"bench: corpus and peers ready in {time.monotonic() - started:.0f} s", flush=True)
    load = os.getloadavg()
    table: dict[str, dict[str, Result | None]] = {}
    resolves: dict[str, dict[str, Resolved]] = {}
    skip_azurite = args.no_azurite or (only is not None and not any("azurite" in o for o in only))
    with corpus_on_azurite(corpus, skip_azurite) as azurite:
        for name, start in _servers(corpus, azurite, installs):
            if only is not None and name not in only:
                continue
            print(f"bench: {name}", flush=True)
            column = time.monotonic()
            wanted = not args.no_resolve and "azurite" not in name
            table[name] = _column(name, start, corpus, args, resolves if wanted else None)
            print(f"bench: {name} took {time.monotonic() - column:.0f} s", flush=True)
    _report(table, resolves, load, os.getloadavg(), args.seconds)
    print(f"bench: server benchmark took {time.monotonic() - started:.0f} s")


def _column(
    name: str,
    start: Start,
    corpus: Corpus,
    args: argparse.Namespace,
    resolves: dict[str, dict[str, Resolved]] | None,
) -> dict[str, Result | None]:
    """One server's column: the resolves on the fresh server (unless ``resolves`` is None),
    then the load rows. A server still computing what clients gave up on, ``--backlog`` s
    after, is restarted for the next row: that work is not the row's cost."""
    with ExitStack() as stack:
        served = stack.enter_context(start())

        def restart() -> Served:
            stack.close()
            print(f"bench: {name} restarted", flush=True)
            return stack.enter_context(start())

        # a client's answer does not mean the server is done: it may still compute requests
        # a client gave up on or never read the answer of (pypiserver after uv's runs)
        if resolves is not None:
            resolves[name] = resolves_of(served, pip_runs=2 if name in LIMITS else 1)
            if not served.settle(args.backlog):
                served = restart()
        return _measure(served, corpus, args, restart)


def _report(
    table: dict[str, dict[str, Result | None]],
    resolves: dict[str, dict[str, Resolved]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    seconds: int,
) -> None:
    when = stamp()
    names = list(table)
    head = (
        f"Server benchmark {when}: each server alone on core 0, wrk -t2 -c32 -d{seconds}s on "
        f"core 1; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after. "
        "Cells: req/s (MB/s for downloads), server CPU ms per request, p50 / p99; resolves: "
        f"wall time of the client on core 1, no cache, fastest of {RESOLVE_RUNS['uv']} uv "
        f"runs and {RESOLVE_RUNS['pip']} pip runs (1 for a peer), as a ratio to nginx's."
    )
    rows = [(row, [_cell(table[n].get(row)) for n in names]) for row, _, _, _ in ROWS]
    limit = resolves.get("nginx", {})
    for client, row in RESOLVE_ROWS.items():
        cells = [seconds_cell(resolves.get(n, {}).get(client), limit.get(client)) for n in names]
        rows.append((row, cells))
    text = markdown(head, names, rows)
    raw = {n: {r: (vars(v) if v else None) for r, v in found.items()} for n, found in table.items()}
    for name, done in resolves.items():
        raw[name] |= {RESOLVE_ROWS[c]: vars(r) for c, r in done.items()}
    save_servers("server", when, (load_before, load_after), seconds, raw, text)
    print(text)


if __name__ == "__main__":
    main()
