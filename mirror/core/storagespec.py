"""What a ``--storage`` value may be: an http(s) container URL or a directory path, and
nothing that only looks like a directory because a URL was mistyped (``htps://``,
``https//``, ``ftp://``): such a value would otherwise create a stray directory and succeed.
"""

from __future__ import annotations

import re

from blobpi.mirror.core.errors import ConfigError

__all__ = ["check_storage", "storage_problem"]

_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_DRIVE = re.compile(r"^[A-Za-z]:$")  # C: of C:\data or C:/data, a Windows directory
# Schemes a container or file location is written with; a first path segment ending in one
# (``https//``, ``xhttps/``) is a URL that lost its ``:``.
_SCHEMES = ("http", "https", "ftp", "ftps", "sftp", "file", "s3", "gs", "az", "abfs", "abfss",
            "wasb", "wasbs")  # fmt: skip
_FIX = "give https://ACCOUNT.blob.core.windows.net/CONTAINER, or ./PATH for a directory"


def storage_problem(spec: str) -> str | None:
    """Why ``spec`` is neither an http(s) container URL nor a directory path, or None.

    >>> storage_problem("htps://acct.blob.core.windows.net/pkgs")
    "has the scheme 'htps', not http(s): give https://ACCOUNT.blob.core.windows.net/CONTAINER, or ./PATH for a directory"
    >>> storage_problem("./data") is None
    True
    """  # noqa: E501 - a doctest shows the whole line
    match = _URL_SCHEME.match(spec)
    if match:
        scheme = match[1]
        if scheme.lower() in ("http", "https"):
            return None
        return f"has the scheme {scheme!r}, not http(s): {_FIX}"
    first, slash, _ = spec.partition("/")
    first = first.partition("\\")[0]
    if ":" in first and not _DRIVE.match(first):
        return f"looks like a mistyped URL (':' in {first!r}): {_FIX}"
    if slash and first.lower().endswith(_SCHEMES):
        return f"looks like a URL without ':' ({first!r}): {_FIX}"
    return None


def check_storage(spec: str) -> None:
    """``ConfigError`` for a value that is neither a container URL nor a directory path."""
    problem = storage_problem(spec)
    if problem:
        raise ConfigError(f"storage {spec!r} {problem}")
