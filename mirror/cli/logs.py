"""Where the ``blobpi`` command's log lines go and how they look: JSON lines
(``core/logfmt.JsonFormatter``) when stderr is not a terminal (a container, a CI job, a
pipe), readable lines on a terminal. ``-v`` shows blobpi's own debug lines (its decisions);
``-vv`` adds the HTTP and Azure libraries' debug lines, which ``-v`` keeps quiet."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from blobpi.mirror.core.logfmt import JsonFormatter, TextFormatter

__all__ = ["configure_logging"]

_LIBRARIES = ("azure", "httpx", "httpcore", "aiohttp", "uvicorn.access")


def configure_logging(verbosity: int, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter() if out.isatty() else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    logging.getLogger("blobpi").setLevel(logging.DEBUG if verbosity >= 1 else logging.INFO)
    for name in _LIBRARIES:  # the Azure SDK logs every request URL at INFO, httpx each request
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)
