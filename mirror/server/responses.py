"""The one table from blobpi's errors to HTTP responses: status, headers, a one-line body.

Routes, the upload API and the auth middleware raise typed errors (``mirror/core/errors.py``)
and never choose a status themselves. An error is answered by the entry of its nearest class
in the table (the order of its MRO), so a new subclass inherits its parent's answer. Errors
that would reveal where the store is (a path, an account URL) answer with a fixed public
message and are logged in full instead; every body is plain text, never sniffed as a page.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from blobpi.mirror.core.errors import (
    AccessDenied,
    BlobNotFound,
    InvalidName,
    InvalidQuery,
    MirrorError,
    NoAdvisories,
    NotAcceptable,
    ProjectNotFound,
    RequestTimeout,
    StorageUnavailable,
    TokenStoreUnreadable,
    TooManyFailures,
    Unauthenticated,
    UploadConflict,
    UploadForbidden,
    UploadRejected,
    UploadTooLarge,
    UpstreamUnavailable,
)

__all__ = ["CHALLENGE", "STATUS", "error_response", "exception_handlers"]

CHALLENGE = {"WWW-Authenticate": 'Basic realm="blobpi"'}  # pip and uv then try netrc, keyring
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}  # error text is never run as a page
_log = logging.getLogger("blobpi.server")


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    public: str | None = None  # said instead of the message, which is logged
    headers: Callable[[MirrorError], Mapping[str, str]] = lambda _: {}


STATUS: Mapping[type[MirrorError], Answer] = {
    ProjectNotFound: Answer(404),
    InvalidName: Answer(404),  # a path that names no project is not there
    BlobNotFound: Answer(404, "not found"),
    NotAcceptable: Answer(406),
    InvalidQuery: Answer(400),
    NoAdvisories: Answer(503),
    Unauthenticated: Answer(401, headers=lambda _: CHALLENGE),
    AccessDenied: Answer(403),
    TooManyFailures: Answer(
        429, headers=lambda e: {"Retry-After": str(getattr(e, "retry_after", 60))}
    ),
    UploadRejected: Answer(400),
    UploadForbidden: Answer(403),
    UploadConflict: Answer(409),
    UploadTooLarge: Answer(413),
    RequestTimeout: Answer(408, headers=lambda _: {"Connection": "close"}),
    UpstreamUnavailable: Answer(502),
    StorageUnavailable: Answer(503, "the index's storage is unavailable; retry later"),
    # the message names where the store is: logged for the operator, never told the client
    TokenStoreUnreadable: Answer(
        503,
        "cannot check the token: the server cannot read its token store; its operator "
        "restores it from a backup or creates new tokens (the server log has the cause)",
    ),
}


def _answer(exc: MirrorError) -> Answer | None:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return None


def error_response(method: str, path: str, exc: MirrorError) -> Response:
    """The response to ``exc``; an error class not in the table is a bug, so it is a 500."""
    answer = _answer(exc) or Answer(500, "internal error; the server log has the cause")
    if answer.status >= 500:
        _log.error("%s %s: %s: %s", method, path, type(exc).__name__, exc)
    body = answer.public if answer.public is not None else str(exc)
    headers = {**answer.headers(exc), **_NOSNIFF}
    return PlainTextResponse(f"{body}\n", status_code=answer.status, headers=headers)


async def _mirror_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MirrorError)
    return error_response(request.method, request.url.path, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own (an unknown route, a wrong method): same plain one-line shape."""
    assert isinstance(exc, HTTPException)
    headers = {**(exc.headers or {}), **_NOSNIFF}
    return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code, headers=headers)


def exception_handlers() -> dict[type[Exception], Callable[..., object]]:
    """Starlette's ``exception_handlers``: every blobpi error through the table."""
    return {MirrorError: _mirror_error, HTTPException: _http_error}
