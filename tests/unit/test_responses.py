"""The one table from errors to HTTP (mirror/server/responses.py): status, headers, body."""

from __future__ import annotations

import pytest

from blobpi.mirror.core import errors
from blobpi.mirror.server.responses import error_response


@pytest.mark.parametrize(
    ("exc", "status", "header"),
    [
        (errors.ProjectNotFound("no project 'x'"), 404, None),
        (errors.NotAcceptable("ask for json"), 406, None),
        (errors.Unauthenticated("send a token"), 401, ("www-authenticate", 'Basic realm="blobpi"')),
        (errors.AccessDenied("scope read"), 403, None),
        (errors.TooManyFailures("wait", 17), 429, ("retry-after", "17")),
        (errors.UploadRejected("bad"), 400, None),
        (errors.UploadForbidden("mirrored"), 403, None),
        (errors.UploadConflict("other bytes"), 409, None),
        (errors.UploadTooLarge("limit"), 413, None),
        (errors.UpstreamUnreachable("down"), 502, None),  # by its parent's entry
    ],
)
def test_error_response__status_headers_and_one_line(
    exc: errors.MirrorError, status: int, header: tuple[str, str] | None
) -> None:
    response = error_response("GET", "/x", exc)
    assert response.status_code == status
    assert bytes(response.body) == f"{exc}\n".encode()
    assert response.headers["x-content-type-options"] == "nosniff"
    if header is not None:
        assert response.headers[header[0]] == header[1]
    else:
        assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    "exc",
    [
        errors.StorageUnavailable("https://acct.blob.core.windows.net/c refused"),
        errors.BlobNotFound("/srv/data/packages/x"),
        errors.PreconditionFailed("lost a race on /srv/data/simple/x"),  # not in the table
        errors.TokenStoreUnreadable("state/tokens.json in /srv/data is corrupt"),  # defect 12
    ],
)
def test_error_response__store_details_stay_in_the_log(exc: errors.MirrorError) -> None:
    response = error_response("GET", "/x", exc)
    assert str(exc) not in bytes(response.body).decode()
    assert bytes(response.body).count(b"\n") == 1
    assert response.status_code in (404, 500, 503)
