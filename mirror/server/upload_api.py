"""The legacy upload API, ``POST /``, as ``twine upload`` and ``uv publish`` speak it.

A ``multipart/form-data`` body with ``:action=file_upload``, ``protocol_version=1``, the
core metadata as fields (``name``, ``version``, ...), the digests the client computed
(``sha256_digest``, ``md5_digest``, ``blake2_256_digest``) and the file as ``content``
(the protocol warehouse documents as "legacy"). The body streams to a spooled temporary file
and is cut off as soon as it passes the size limit, so memory stays bounded; then every
digest the client sent is checked against the bytes and ``ops.publish.publish`` does the
rest (filename and metadata agree, write-once, PEP 658 file, pages). Failures raise typed
errors (``UploadRejected`` and its kinds) that the server's one table answers with one
line in the body (``uv publish`` prints it; ``twine upload --verbose`` does) and leave the
container as it was.
"""

from __future__ import annotations

import hashlib
import logging
from typing import IO

import anyio.to_thread
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive

from blobpi.mirror.core.errors import (
    InvalidName,
    UploadRejected,
    UploadTooLarge,
)
from blobpi.mirror.core.http import content_length
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.server.auth import check_project
from blobpi.mirror.store.protocol import CHUNK_SIZE

__all__ = ["upload"]

log = logging.getLogger(__name__)

_FORM_ALLOWANCE = 4 * 1024 * 1024  # metadata fields (a long description) beside the file
_DIGESTS = {"md5_digest": "md5", "blake2_256_digest": "blake2b_256"}


class _TooLarge(Exception):
    pass


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that stops the body once more than ``limit`` bytes have arrived."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return wrapped


def _too_large(settings: Settings) -> UploadTooLarge:
    return UploadTooLarge(
        f"the upload is over the limit of {settings.server.max_upload_bytes} bytes: raise "
        "BLOBPI_MAX_UPLOAD_BYTES on the server if it must be stored",
    )


async def upload(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UploadRejected(
            "malformed upload: expected a multipart/form-data body: upload with "
            "'twine upload' or 'uv publish'"
        )
    limit = settings.server.max_upload_bytes + _FORM_ALLOWANCE
    length = content_length(request.headers.get("content-length"))
    if length is not None and length > limit:  # refuse before reading a byte of it
        raise _too_large(settings)
    limited = Request(request.scope, _limited(request.receive, limit))
    try:
        form = await limited.form(max_files=2)
    except _TooLarge:
        raise _too_large(settings) from None
    except HTTPException as e:  # python-multipart could not parse the body
        raise UploadRejected(
            f"malformed upload: {e.detail} Upload with 'twine upload' or 'uv publish'"
        ) from e
    except ClientDisconnect:
        raise UploadRejected(
            "malformed upload: the client went away before the body ended"
        ) from None
    try:
        return await _publish(request, settings, form)
    finally:
        await form.close()


def _digests(fileobj: IO[bytes], names: list[str]) -> dict[str, str]:
    hashers = {
        n: hashlib.blake2b(digest_size=32) if n == "blake2b_256" else hashlib.new(n) for n in names
    }
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK_SIZE):
        for hasher in hashers.values():
            hasher.update(chunk)
    fileobj.seek(0)
    return {n: h.hexdigest() for n, h in hashers.items()}


def _field(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


async def _publish(request: Request, settings: Settings, form: FormData) -> Response:
    action = _field(form, ":action")
    if action != "file_upload":
        raise UploadRejected(
            f"unsupported :action {(action or '')[:40]!r}: this index takes file_upload "
            "('twine upload', 'uv publish')"
        )
    if _field(form, "protocol_version") not in (None, "1"):
        raise UploadRejected("unsupported protocol_version: this index speaks version 1")
    content = form.get("content")
    if not isinstance(content, UploadFile) or not content.filename:
        raise UploadRejected("malformed upload: no file in the 'content' field")
    filename = content.filename
    try:  # in an upload a bad name is a bad request (400), not a missing page (404)
        return await _store(request, settings, form, content, filename)
    except InvalidName as e:
        raise UploadRejected(str(e)) from e


async def _store(
    request: Request, settings: Settings, form: FormData, content: UploadFile, filename: str
) -> Response:
    dist = parse_distribution_filename(filename)
    check_project(request.scope.get("blobpi.token"), dist.name)
    _check_fields(form, filename, dist.name, dist.version)
    sent = {_DIGESTS[k]: v.lower() for k in _DIGESTS if (v := _field(form, k))}
    actual = await anyio.to_thread.run_sync(_digests, content.file, list(sent))
    for algorithm, digest in sent.items():
        if actual[algorithm] != digest:
            raise UploadRejected(
                f"{filename!r}: the {algorithm} the client sent does not match the "
                "bytes received: upload again"
            )
    result = await publish(
        request.app.state.store,
        filename,
        content.file,
        max_bytes=settings.server.max_upload_bytes,
        expected_sha256=_field(form, "sha256_digest"),
        shared_names=settings.shared_names,
    )
    token = request.scope.get("blobpi.token")
    log.info(
        "upload %s %s (token %s)",
        "stored" if result.created else "unchanged",
        filename,
        token.id if token else "-",
    )
    verb = "uploaded" if result.created else "already present, unchanged:"
    return PlainTextResponse(f"{verb} {filename}\n")


def _check_fields(form: FormData, filename: str, name: str, version: Version) -> None:
    sent_name, sent_version = _field(form, "name"), _field(form, "version")
    if sent_name is not None and canonicalize_name(sent_name) != name:
        raise UploadRejected(
            f"{filename!r}: the form names project {sent_name[:80]!r}, the filename {name!r}"
        )
    if sent_version is not None:
        try:
            same = Version(sent_version) == version
        except InvalidVersion:
            same = False
        if not same:
            raise UploadRejected(
                f"{filename!r}: the form says version {sent_version[:40]!r}, the filename "
                f"{str(version)!r}"
            )
