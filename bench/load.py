"""Load runs: a server pinned to one core, wrk pinned to the other, and the server's CPU.

``Served`` starts a server process under ``taskset``, waits until it answers, and measures
the CPU time of it and its children (``/proc/PID/stat`` utime + stime) around each wrk run,
so each row reports server CPU per request, which is steadier than req/s on a shared
machine. Traffic goes to 127.0.0.1 only, bounded by wrk's duration.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["LOAD_CPU", "MACHINE", "WRK_TIMEOUT", "Result", "Served", "free_port", "serving"]

SERVER_CPU = "0"
LOAD_CPU = "1"
MACHINE = "0,1"  # per machine (bench_machine.py): server and load share every core
WRK_TIMEOUT = 10  # s: a request unanswered this long counts as no answer
CONNECTIONS = 32  # wrk's, per row
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass(frozen=True)
class Result:
    rps: float
    mb_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # server CPU per request
    errors: int
    timeouts: int = 0  # requests that got no answer in WRK_TIMEOUT s
    requests: int = 0  # answered in the run
    connections: int = CONNECTIONS
    note: str = ""  # why there are no figures (no answer, not run)

    @classmethod
    def none(cls, note: str) -> Result:
        """A row with no figures: the server did not answer, or the row was not run."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0, note=note)

    @property
    def answered(self) -> bool:
        """Whether the server kept up: no request timed out, and every connection got at
        least one answer (requests still waiting when wrk stops are not counted as timeouts
        by wrk, so a server slower than the run's length shows only as too few answers)."""
        return not self.note and not self.timeouts and self.requests >= self.connections


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (workers a server forked or spawned)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def _cpu_seconds(pid: int) -> float:
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


def _runnable(pid: int) -> bool:
    """Whether a thread of ``pid`` or its descendants is running or waiting for a core."""
    for p in _tree(pid):
        for stat in Path(f"/proc/{p}/task").glob("*/stat"):
            try:
                if stat.read_text().rsplit(")", 1)[1].split()[0] == "R":
                    return True
            except (FileNotFoundError, ProcessLookupError):
                continue
    return False


def _ms(text: str) -> float:
    value = float(re.sub(r"[a-z]+$", "", text))
    unit = re.sub(r"^[\d.]+", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _bytes(text: str) -> float:
    value = float(re.sub(r"[A-Za-z]+$", "", text))
    unit = re.sub(r"^[\d.]+", "", text)
    return value * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[unit]


@dataclasses.dataclass
class Served:
    name: str
    url: str
    pid: int
    prefix: str = "/simple/"  # where its simple API is
    redirects: bool = False  # downloads answer with a redirect: only the file rows differ
    follows: bool = False  # also measure whole downloads with ``follow`` (curl -L)
    load_cpus: str = LOAD_CPU  # where wrk and curl run

    def settle(self, limit: float) -> bool:
        """Wait up to ``limit`` s for the server to go idle: requests wrk gave up on (its 10 s
        timeout) may still be computed, and would otherwise eat into the next row's core.
        Idle means no thread of it runnable, twice in a row: CPU time alone would read a
        busy server as idle when other work on the machine keeps it off the core. Returns
        whether it went idle."""
        deadline = time.monotonic() + limit
        quiet = 0
        while time.monotonic() < deadline and quiet < 2:
            quiet = 0 if _runnable(self.pid) else quiet + 1
            time.sleep(0.1)
        if quiet < 2:
            print(f"bench: {self.name} still busy after {limit:.0f} s", flush=True)
        return quiet >= 2

    def load(
        self, path: str, headers: Mapping[str, str], seconds: int, connections: int = CONNECTIONS
    ) -> Result:
        args = ["taskset", "-c", self.load_cpus, "wrk", "-t2", f"-c{connections}", f"-d{seconds}s"]
        args += ["--timeout", f"{WRK_TIMEOUT}s"]
        args += ["--latency", *(a for k, v in headers.items() for a in ("-H", f"{k}: {v}"))]
        before = _cpu_seconds(self.pid)
        out = subprocess.run(
            [*args, self.url + path], capture_output=True, text=True, check=True
        ).stdout
        cpu = _cpu_seconds(self.pid) - before
        requests = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
        transfer = re.search(r"Transfer/sec:\s+(\S+)", out)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        timeouts = re.search(r"Socket errors: .*timeout (\d+)", out)
        return Result(
            rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
            mb_per_s=_bytes(transfer[1]) / 1e6 if transfer else 0.0,
            p50_ms=_ms(re.search(r"\s50%\s+(\S+)", out)[1]),  # type: ignore[index]
            p99_ms=_ms(re.search(r"\s99%\s+(\S+)", out)[1]),  # type: ignore[index]
            cpu_ms=1000 * cpu / max(requests, 1),
            errors=(int(errors[1]) if errors else 0) + (1 if socket_errors else 0),
            timeouts=int(timeouts[1]) if timeouts else 0,
            requests=requests,
            connections=connections,
        )

    def follow(self, path: str, seconds: int, connections: int = 8) -> Result:
        """Whole downloads through redirects (``curl -L``, pinned to the load core), for a
        server that answers with a redirect, which wrk does not follow: MB/s end to end,
        and the server's CPU per download (the blob service's is not the server's)."""
        curl = ["taskset", "-c", self.load_cpus, "curl", "-s", "-L", "-o", "/dev/null"]
        curl += ["-w", "%{http_code} %{size_download} %{time_total}\n", self.url + path]
        times: list[float] = []
        done: list[int] = [0, 0]  # bytes, non-200 answers
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def worker() -> None:
            while time.monotonic() < deadline:
                out = subprocess.run(curl, capture_output=True, text=True).stdout.split()
                with lock:
                    if len(out) == 3 and out[0] == "200":
                        done[0] += int(out[1])
                        times.append(float(out[2]) * 1000)
                    else:
                        done[1] += 1

        before, started = _cpu_seconds(self.pid), time.monotonic()
        threads = [threading.Thread(target=worker) for _ in range(connections)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed, cpu = time.monotonic() - started, _cpu_seconds(self.pid) - before
        times.sort()
        count = max(len(times), 1)
        return Result(
            rps=len(times) / elapsed,
            mb_per_s=done[0] / elapsed / 1e6,
            p50_ms=times[count // 2] if times else 0.0,
            p99_ms=times[min(count - 1, count * 99 // 100)] if times else 0.0,
            cpu_ms=1000 * cpu / count,
            errors=done[1],
            requests=len(times),
            connections=connections,
        )


@contextmanager
def serving(
    name: str,
    args: Sequence[str],
    port: int,
    check_path: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    prefix: str = "/simple/",
    redirects: bool = False,
    follows: bool = False,
    cpus: str = SERVER_CPU,
) -> Iterator[Served]:
    """Run ``args`` on the server core (or ``cpus``) until the block ends; raise if it never
    answers. With ``cpus`` other than the server core, the load runs there too."""
    log = Path(tempfile.gettempdir()) / f"blobpi-bench-{name.split()[0]}-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["taskset", "-c", cpus, *args],
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + check_path, timeout=5).status_code < 400:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"bench: {name} did not start (log: {log})")
            time.sleep(0.2)
        load_cpus = LOAD_CPU if cpus == SERVER_CPU else cpus
        yield Served(name, url, process.pid, prefix, redirects, follows or redirects, load_cpus)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
