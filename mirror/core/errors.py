"""Every error blobpi raises on purpose, with messages that name the cause and the fix.

MirrorError
 ├── ConfigError            (ValueError)      bad settings, storage spec, blobpi.toml, a CLI option
 ├── InvalidName            (ValueError)      a project name or filename that fails the checks
 ├── NotAcceptable          (ValueError)      no format in Accept is served (HTTP 406)
 ├── InvalidQuery           (ValueError)      an OSV API request that is not an OSV query (400)
 ├── NoAdvisories                             the container holds no OSV database yet (503)
 ├── OperationRefused       (ValueError)      an operator command the index cannot do as asked:
 │                                            a yank without reason, nothing to unyank, a delete
 │                                            of a mirrored file
 ├── ProjectNotFound        (LookupError)     no such project in the index (HTTP 404)
 ├── NotInMirror            (LookupError)     a pinned requirement the container holds no fitting
 │                                            file of (Azure ML blob URLs)
 ├── BlobNotFound           (FileNotFoundError)
 ├── BlobExists             (FileExistsError) a write-once blob is already there
 ├── PreconditionFailed                       an ETag-conditional write lost a race
 ├── HashMismatch           (ValueError)      bytes did not match the expected digest
 ├── StorageUnavailable                       the store cannot be reached or refused access
 │    ├── WriteConflict                       a compare-and-swap lost every attempt (HTTP 503)
 │    └── TokenStoreUnreadable                the server cannot read its tokens to check one
 ├── AuthError                                a request the server's auth refuses
 │    ├── Unauthenticated                     no, unknown or expired token (HTTP 401, challenge)
 │    ├── AccessDenied      (PermissionError) the token's scope or project does not cover it (403)
 │    └── TooManyFailures                     too many failed logins from one address (429)
 ├── UploadRejected         (ValueError)      a distribution that may not be stored (HTTP 400)
 │    ├── UploadConflict                      the filename exists with other bytes (409)
 │    ├── UploadForbidden                     the name is mirrored: dependency confusion (403)
 │    └── UploadTooLarge                      over BLOBPI_MAX_UPLOAD_BYTES (413)
 ├── RequestTimeout                           a client sent its request too slowly (HTTP 408)
 ├── UpstreamUnavailable                      the upstream index failed (HTTP 502)
 │    ├── UpstreamUnreachable                 not one connection could be made to it
 │    ├── ForeignOrigin                       a URL or redirect off the allowed origins (SSRF)
 │    └── UpstreamTooLarge                    a response over its limit (decoded bytes)
 └── LeaseHeld                                another sync holds the lease

HTTP statuses are chosen in one place, the server's exception handler table
(``mirror/server/responses.py``), never where an error is raised. Messages are one line and
quote user input with ``!r``, so a hostile value cannot forge a second log line.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AuthError",
    "BlobExists",
    "BlobNotFound",
    "ConfigError",
    "ForeignOrigin",
    "HashMismatch",
    "InvalidName",
    "InvalidQuery",
    "LeaseHeld",
    "MirrorError",
    "NoAdvisories",
    "NotAcceptable",
    "NotInMirror",
    "OperationRefused",
    "PreconditionFailed",
    "ProjectNotFound",
    "RequestTimeout",
    "StorageUnavailable",
    "TokenStoreUnreadable",
    "TooManyFailures",
    "Unauthenticated",
    "UploadConflict",
    "UploadForbidden",
    "UploadRejected",
    "UploadTooLarge",
    "UpstreamTooLarge",
    "UpstreamUnavailable",
    "UpstreamUnreachable",
    "WriteConflict",
]


class MirrorError(Exception):
    """Base of all of blobpi's own errors."""


class ConfigError(MirrorError, ValueError):
    pass


class InvalidName(MirrorError, ValueError):
    pass


class NotAcceptable(MirrorError, ValueError):
    pass


class InvalidQuery(MirrorError, ValueError):
    pass


class NoAdvisories(MirrorError):
    pass


class OperationRefused(MirrorError, ValueError):
    pass


class ProjectNotFound(MirrorError, LookupError):
    pass


class NotInMirror(MirrorError, LookupError):
    pass


class BlobNotFound(MirrorError, FileNotFoundError):
    pass


class BlobExists(MirrorError, FileExistsError):
    pass


class PreconditionFailed(MirrorError):
    pass


class HashMismatch(MirrorError, ValueError):
    pass


class StorageUnavailable(MirrorError):
    pass


class WriteConflict(StorageUnavailable):
    """Other writers kept changing a blob while a compare-and-swap retried: rerun later."""


class TokenStoreUnreadable(StorageUnavailable):
    pass


class AuthError(MirrorError):
    pass


class Unauthenticated(AuthError):
    pass


class AccessDenied(AuthError, PermissionError):
    pass


class TooManyFailures(AuthError):
    """``retry_after``: whole seconds until the address may try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UploadRejected(MirrorError, ValueError):
    pass


class UploadConflict(UploadRejected):
    pass


class UploadForbidden(UploadRejected):
    pass


class UploadTooLarge(UploadRejected):
    pass


class RequestTimeout(MirrorError):
    pass


class UpstreamUnavailable(MirrorError):
    pass


class UpstreamUnreachable(UpstreamUnavailable):
    """Not one connection to the upstream could be made (refused, no route, DNS): the
    upstream URL or the network is wrong, not one project."""


class ForeignOrigin(UpstreamUnavailable):
    """A URL the upstream gave (a file, a redirect) is not on an allowed origin: refused
    before any request is sent, so a hostile page cannot make the sync read another host."""

    def __init__(self, message: str, origin: str | None = None) -> None:
        super().__init__(message)
        self.origin = origin  # the refused URL's origin (no credentials), when it parsed


class UpstreamTooLarge(UpstreamUnavailable):
    """A response went over its limit while streaming (counted on decoded bytes)."""


class LeaseHeld(MirrorError):
    """Another writer holds the lease (``state/sync.lock``): a second sync waits or exits."""
