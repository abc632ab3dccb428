"""Run ``blobpi serve`` under uvicorn (the default) or granian and, once it listens, print
the index URL and a ready ``pip install`` line: the last start-up lines a terminal (and
``make run``) shows before requests.

Both serve the same ``create_app``; the choice was measured (README, Performance: granian
answered 3.7x uvicorn's page requests on one core, and implements ASGI ``pathsend``, so
local files are sent without passing through Python). Each granian worker (``--workers``)
is a process with its own caches, built from the same ``Settings`` (pickled to it, so flags
reach every worker). uvicorn runs as one process here: for more, run replicas or granian.
"""

from __future__ import annotations

import errno
import functools
import socket

import anyio
import uvicorn

from blobpi.mirror.core.errors import ConfigError, MirrorError
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.store.pages import read_projects
from blobpi.mirror.store.protocol import open_store

__all__ = ["check_port_free", "ready_lines", "serve"]


def check_port_free(host: str, port: int) -> None:
    """``ConfigError`` when ``host:port`` cannot be bound, before any server stack starts:
    each one (uvicorn, granian) would print its own raw errno and INFO lines instead."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as the servers bind: SO_REUSEADDR lets a port in TIME_WAIT pass, not a listener
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is in use: pass --port N (make run: PORT=N)"
                ) from None
            raise ConfigError(
                f"cannot listen on {host} port {port} ({e.strerror}): pass another --host or --port"
            ) from None


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

    install = f"pip install --index-url {url} {anyio.run(_first_project)}"
    if not settings.server.allows_anonymous_read:  # the line must work as pasted
        token_url = url.replace("http://", "http://__token__:$READ_TOKEN@", 1)
        install = (
            install.replace(url, token_url) + " (a read token: blobpi token create --scope read)"
        )
    return [
        f"blobpi: serving {url} (status page: {url.removesuffix('simple/')})",
        f"blobpi: {install}",
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


def serve(settings: Settings) -> None:
    """Serve until interrupted, on ``settings.server.host``:``port``."""
    if settings.server.http_server == "uvicorn" and settings.server.workers != 1:
        raise ConfigError(
            f"--workers {settings.server.workers} needs --server granian: blobpi runs "
            "uvicorn as one process (run replicas for more)"
        )
    check_port_free(settings.server.host, settings.server.port)  # after what needs no socket
    if settings.server.http_server == "uvicorn":
        _uvicorn(settings)
    else:
        _granian(settings)


def _uvicorn(settings: Settings) -> None:
    from blobpi.mirror.server.app import create_app
    from blobpi.mirror.server.timeouts import header_deadline_protocol

    config = uvicorn.Config(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        # X-Forwarded-For is the app's (trusted proxies only, on both stacks): uvicorn's own
        # default trusts loopback, which would let any local caller choose its address.
        proxy_headers=False,
        http=header_deadline_protocol(settings.server.header_timeout),
        server_header=False,
        log_level="info",
        log_config=None,  # uvicorn's loggers go to blobpi's handler (cli/main.py): one format
        access_log=False,  # blobpi.access logs each request, with its request id
    )
    _Server(config, ready_lines(settings)).run()


def _granian(settings: Settings) -> None:
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    from blobpi.mirror.server.app import create_app

    granian = Server(
        "blobpi.mirror.server.app:create_app",  # a label: the loader below builds the app
        address=settings.server.host,
        port=settings.server.port,
        interface=Interfaces.ASGI,
        workers=settings.server.workers,
        websockets=False,
        # a request's head must be complete within the limit (slow-header clients)
        http1_settings=HTTP1Settings(
            header_read_timeout=int(settings.server.header_timeout * 1000)
        ),
        log_access=False,  # blobpi.access logs each request, with its request id
        # granian's own lines go to blobpi's handler (cli/main.py): one format
        log_dictconfig={"version": 1, "loggers": {"_granian": {"propagate": True}}},
    )
    lines = ready_lines(settings)
    # Startup hooks run once the socket listens, before the workers take requests.
    granian.on_startup(lambda: print("\n".join(lines), flush=True))
    granian.serve(target_loader=functools.partial(create_app, settings), wrap_loader=False)
