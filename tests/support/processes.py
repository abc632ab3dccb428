"""Real processes for the tests: Azurite, the blobpi server, and clean environments for the
clients (pip, uv, twine) so that the machine's own pip configuration cannot leak in."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published development key (not a secret: it is in Azurite's documentation).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any]) -> None:
    """Terminate a process started for a test; kill it if it does not exit in 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_until(check: object, timeout: float = 30.0, what: str = "process") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not become ready in {timeout}s")


class Azurite:
    """An Azurite blob service on a free loopback port, in memory."""

    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.account_url};"
        )

    def new_container_url(self) -> str:
        return f"{self.account_url}/t{uuid.uuid4().hex[:20]}"

    @classmethod
    @contextlib.contextmanager
    def start(cls, location: Path | None = None, port: int | None = None) -> Iterator[Azurite]:
        """In memory, or on disk at ``location`` (so that a restart on ``port`` keeps it)."""
        binary = os.environ.get("AZURITE_BLOB") or str(
            ROOT / ".tools/node_modules/.bin/azurite-blob"
        )
        if not Path(binary).exists() and not shutil.which(binary):
            raise RuntimeError(f"Azurite not found at {binary}: run 'make azurite'")
        port = port or free_port()
        keep = ["--location", str(location)] if location else ["--inMemoryPersistence"]
        process = subprocess.Popen(
            [
                binary,
                *keep,
                "--silent",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                lambda: httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code > 0,
                what="Azurite",
            )
            yield cls(port, process)
        finally:
            stop(process)


def client_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for pip/uv/twine subprocesses: no user or machine configuration, so
    only the index under test is reachable, and no cache shared between tests."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "TWINE_", "AZURE_", "BLOBPI_"))
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_CACHE_DIR": "1",
            "PIP_NO_INPUT": "1",
            "UV_NO_CONFIG": "1",
            "UV_NO_CACHE": "1",
            "UV_PYTHON_DOWNLOADS": "never",
        }
    )
    env.update(extra or {})
    return env


def run(
    args: list[str], env: Mapping[str, str] | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}"
        )
    return result


def make_venv(path: Path) -> Path:
    """A fresh venv with pip; returns its python."""
    run(
        [str(BIN / "uv"), "venv", "--quiet", "--seed", "--python", sys.executable, str(path)],
        env=client_env(),
    )
    return path / "bin" / "python"


class Server:
    """``blobpi serve`` in a subprocess on a free port."""

    def __init__(self, url: str, process: subprocess.Popen[str], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple/"

    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        storage: str,
        environ: Mapping[str, str],
        tmp: Path,
        extra_args: list[str] | None = None,
    ) -> Iterator[Server]:
        port = free_port()
        log = tmp / f"server-{port}.log"
        env = {**os.environ, "BLOBPI_PAGE_TTL": "0.2", **environ}
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(BIN / "blobpi"),
                    "serve",
                    "--storage",
                    storage,
                    "--port",
                    str(port),
                    *(extra_args or []),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(
                lambda: httpx.get(f"{url}/health", timeout=1).status_code == 200,
                what=f"blobpi serve (log: {log})",
            )
            yield cls(url, process, log)
        finally:
            stop(process)
