"""Zero-copy downloads: a whole local file handed to the HTTP server by path.

The ASGI ``http.response.pathsend`` extension lets the server (granian) send a file itself,
without its bytes passing through Python; servers that do not offer it (uvicorn) get the
streamed body instead (``StreamingResponse`` over ``BlobStore.open``). Ranges are always
streamed: the extension sends whole files. A file pruned after its head was read (the head
cache keeps heads for ``BLOBPI_PAGE_TTL``) is answered 404 by granian, as by the routes.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["PathSendResponse", "supports_pathsend"]


def supports_pathsend(scope: Scope) -> bool:
    return "http.response.pathsend" in scope.get("extensions", {})


class PathSendResponse(Response):
    """A ``200`` whose body is the file at ``path``; the caller sets ``Content-Length``."""

    def __init__(self, path: str, headers: Mapping[str, str], media_type: str) -> None:
        super().__init__(None, status_code=200, headers=headers, media_type=media_type)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.pathsend", "path": self.path})
