"""Every error blobpi raises on purpose, with messages that name the cause and the fix.

MirrorError
 ├── ConfigError            (ValueError)     bad settings, storage spec, blobpi.toml
 ├── InvalidName            (ValueError)     a project name or filename that fails the checks
 ├── ProjectNotFound        (LookupError)    no such project in the index (HTTP 404)
 ├── BlobNotFound           (FileNotFoundError)
 ├── BlobExists             (FileExistsError) a write-once blob is already there
 ├── PreconditionFailed                       an ETag-conditional write lost a race
 ├── HashMismatch           (ValueError)     bytes did not match the expected digest
 ├── StorageUnavailable                       the store cannot be reached or refused access
 │    └── WriteConflict                       a compare-and-swap lost every attempt (HTTP 503)
 ├── UploadRejected         (ValueError)     a distribution that may not be stored (HTTP 400)
 │    ├── UploadConflict                      the filename exists with other bytes (409)
 │    ├── UploadForbidden                     the name is mirrored: dependency confusion (403)
 │    └── UploadTooLarge                      over BLOBPI_MAX_UPLOAD_BYTES (413)
 ├── UpstreamUnavailable                      the upstream index failed (HTTP 502)
 └── LeaseHeld                                another sync holds the lease

Messages are one line and quote user input with ``!r``, so a hostile value cannot
forge a second log line.
"""

from __future__ import annotations

__all__ = [
    "BlobExists",
    "BlobNotFound",
    "ConfigError",
    "HashMismatch",
    "InvalidName",
    "LeaseHeld",
    "MirrorError",
    "PreconditionFailed",
    "ProjectNotFound",
    "StorageUnavailable",
    "UploadConflict",
    "UploadForbidden",
    "UploadRejected",
    "UploadTooLarge",
    "UpstreamUnavailable",
    "WriteConflict",
]


class MirrorError(Exception):
    """Base of all of blobpi's own errors."""


class ConfigError(MirrorError, ValueError):
    pass


class InvalidName(MirrorError, ValueError):
    pass


class ProjectNotFound(MirrorError, LookupError):
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


class UploadRejected(MirrorError, ValueError):
    pass


class UploadConflict(UploadRejected):
    pass


class UploadForbidden(UploadRejected):
    pass


class UploadTooLarge(UploadRejected):
    pass


class UpstreamUnavailable(MirrorError):
    pass


class LeaseHeld(MirrorError):
    """Another writer holds the lease (``state/sync.lock``): a second sync waits or exits."""
