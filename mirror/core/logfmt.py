"""Log records as people and log pipelines read them: JSON lines (one object a line) when
the output is not a terminal, short readable lines on a terminal. Both carry the request id
the server sets for the request being answered (``REQUEST_ID``), so one request's lines can
be found together.

A JSON line has ``time`` (ISO 8601 UTC), ``level``, ``logger``, ``message``, ``request_id``
when there is one, ``error`` for an exception, and the fields a caller passed in
``extra={"fields": {...}}`` (the access log: ``method``, ``path``, ``status``, ...).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "TextFormatter"]

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "blobpi_request_id", default=None
)


# uvicorn logs its every line, "Started server process" included, on "uvicorn.error"
_SHOWN_AS = {"uvicorn.error": "uvicorn"}


def _logger(record: logging.LogRecord) -> str:
    return _SHOWN_AS.get(record.name, record.name)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    """One JSON object a line.

    >>> r = logging.LogRecord("blobpi.sync", logging.INFO, "", 0, "6 files added", None, None)
    >>> r.created = 0.0
    >>> line = json.loads(JsonFormatter().format(r))
    >>> line["time"], line["level"], line["message"]
    ('1970-01-01T00:00:00.000Z', 'info', '6 files added')
    """

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC)
        line: dict[str, Any] = {
            "time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": _logger(record),
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        line.update(_fields(record))
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS level logger: message [request id]`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        request_id = REQUEST_ID.get()
        tail = f" [{request_id}]" if request_id else ""
        text = (
            f"{when} {record.levelname.lower():<7} {_logger(record)}: {record.getMessage()}{tail}"
        )
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text
