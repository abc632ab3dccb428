"""Resolve-only installs: the wall time of ``pip install --dry-run`` and ``uv pip install
--dry-run`` of the corpus's projects from one server, as a user's first install sees it.

No cache (``--no-cache-dir``, ``--no-cache``), no config or ``PIP_``/``UV_`` environment (only
the server given is asked: 127.0.0.1), one try per request with wrk's 10 s timeout, and the
client pinned to the load core. Nothing is installed: a dry run into the bench's own venv,
which holds none of the corpus's projects, resolves as a fresh venv would.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import PROJECTS
from bench.load import LOAD_CPU, Served

__all__ = ["RESOLVE_ROWS", "RESOLVE_RUNS", "Resolved", "resolve", "resolves", "seconds_cell"]

BIN = Path(sys.executable).parent
CLIENTS = ("pip", "uv")
REQUEST_TIMEOUT = 10  # s per request, as wrk's
RUN_TIMEOUT = 120  # s per client run
RESOLVE_ROWS = {c: f"{c} install --dry-run of {' '.join(PROJECTS)}" for c in CLIENTS}
RESOLVE_ROWS["uv"] = f"uv pip install --dry-run of {' '.join(PROJECTS)}"
# runs per client, the fastest reported (noise on a shared machine only adds); uv is fast,
# pip takes seconds (it parses 45,000 links), so it runs this often only where the target
# compares (``pip_runs``), once elsewhere
RESOLVE_RUNS = {"pip": 2, "uv": 3}


@dataclasses.dataclass(frozen=True)
class Resolved:
    seconds: float | None  # None: the client failed or ran out of time
    error: str = ""  # the client's last line of output when it failed


def _command(client: str, index_url: str, projects: list[str]) -> list[str]:
    if client == "pip":
        args = [str(BIN / "python"), "-m", "pip", "install", "--dry-run", "--isolated"]
        args += ["--no-cache-dir", "--disable-pip-version-check", "--quiet"]
        args += ["--timeout", str(REQUEST_TIMEOUT), "--retries", "0"]
    else:
        args = [str(BIN / "uv"), "pip", "install", "--dry-run", "--no-cache", "--no-config"]
        args += ["--quiet", "--python", str(BIN / "python")]
    return ["taskset", "-c", LOAD_CPU, *args, "--index-url", index_url, *projects]


def resolve(client: str, index_url: str, projects: list[str]) -> Resolved:
    """One resolve of ``projects`` by ``client`` ("pip" or "uv") from ``index_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env |= {"UV_HTTP_TIMEOUT": str(REQUEST_TIMEOUT), "UV_HTTP_RETRIES": "0"}
    with tempfile.TemporaryDirectory() as cwd:  # no project config is picked up
        started = time.perf_counter()
        try:
            done = subprocess.run(
                _command(client, index_url, projects),
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return Resolved(None, f"no answer in {RUN_TIMEOUT} s")
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        output = done.stderr + done.stdout
        if "timed out" in output.lower():
            return Resolved(None, f"no answer in {REQUEST_TIMEOUT} s")
        lines = [line for line in output.splitlines() if line.strip()]
        return Resolved(None, lines[-1].strip()[:200] if lines else f"exit {done.returncode}")
    return Resolved(seconds)


def resolves(served: Served, pip_runs: int) -> dict[str, Resolved]:
    """pip's and uv's resolve of the corpus, on the fresh server, before any load: the
    fastest of ``pip_runs`` and of RESOLVE_RUNS["uv"], after one uv run that fills the
    server's caches."""
    index = served.url + served.prefix
    projects = list(PROJECTS)
    warm = resolve("uv", index, projects)
    found: dict[str, Resolved] = {}
    for client in CLIENTS:
        runs = [warm] if warm.seconds is None else []  # no answer: not again
        wanted = pip_runs if client == "pip" else RESOLVE_RUNS[client]
        while len(runs) < wanted and all(r.seconds for r in runs):
            runs.append(resolve(client, index, projects))
        timed = [r for r in runs if r.seconds is not None]
        found[client] = min(timed, key=lambda r: r.seconds or 0) if timed else runs[-1]
        print(
            f"  {served.name:28} {RESOLVE_ROWS[client]:32} {seconds_cell(found[client])}",
            flush=True,
        )
    return found


def seconds_cell(resolved: Resolved | None, limit: Resolved | None = None) -> str:
    if resolved is None:
        return "n/a"
    if resolved.seconds is None:
        return f"failed: {resolved.error}"
    text = f"{resolved.seconds:.2f} s"
    if limit is not None and limit.seconds:
        text += f" ({resolved.seconds / limit.seconds:.2f}x nginx)"
    return text
