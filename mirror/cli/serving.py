"""Run uvicorn for ``blobpi serve`` and, once it listens, print the index URL and a ready
``pip install`` line: the last lines a terminal (and ``make run``) shows before requests."""

from __future__ import annotations

import socket

import anyio
import uvicorn

from blobpi.mirror.core.errors import MirrorError
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.store.pages import read_projects
from blobpi.mirror.store.protocol import open_store

__all__ = ["ready_lines", "serve_and_announce"]


def ready_lines(settings: Settings) -> list[str]:
    """What ``serve`` prints once it listens: the index URL and an install line to paste."""
    host = settings.server.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{settings.server.port}/simple/"

    async def _first_project() -> str:
        try:
            async with open_store(settings.storage, settings.storage_connection_string) as s:
                projects = (await read_projects(s)).projects
        except MirrorError:
            return "NAME"  # the server reports storage trouble itself, on /health/ready
        return projects[0] if projects else "NAME"

    return [
        f"blobpi: serving {url} (status page: {url.removesuffix('simple/')})",
        f"blobpi: pip install --index-url {url} {anyio.run(_first_project)}",
    ]


class _Server(uvicorn.Server):
    """uvicorn's server, printing ``lines`` once it listens, so they are the last thing a
    terminal (and ``make run``) shows before the request log."""

    def __init__(self, config: uvicorn.Config, lines: list[str]) -> None:
        super().__init__(config)
        self._lines = lines

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print("\n".join(self._lines), flush=True)


def serve_and_announce(config: uvicorn.Config, settings: Settings) -> None:
    _Server(config, ready_lines(settings)).run()
