"""Names: PEP 503 canonical project names, distribution filenames, and blob paths.

Everything a user controls (a project name in a URL, an uploaded filename, a path under
``/packages/``) passes through here before it touches storage, so this is where hostile
input stops: ``..``, NUL bytes, encoded slashes, control characters and over-long names.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from blobpi.mirror.core.errors import InvalidName

__all__ = [
    "MAX_FILENAME_LENGTH",
    "Distribution",
    "check_blob_path",
    "content_path",
    "parse_distribution_filename",
    "project_name",
]

MAX_FILENAME_LENGTH = 255  # the common file-system limit for one path segment
MAX_PROJECT_LENGTH = 200
_MAX_BLOB_PATH = 1024  # Azure's limit for a blob name

# PEP 508 names: letters, digits, and . _ - inside.
_PROJECT_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# What appears in real wheel and sdist filenames ('+' local versions, '!' epochs).
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._+!-]+$")
_SDIST_SUFFIXES = (".tar.gz", ".zip")


def project_name(raw: str) -> NormalizedName:
    """Validate a project name from user input and return its canonical form.

    >>> project_name("Ruamel.YAML")
    'ruamel-yaml'
    """
    if len(raw) > MAX_PROJECT_LENGTH or not _PROJECT_RE.match(raw):
        raise InvalidName(
            f"{raw[:80]!r} is not a valid project name: use letters, digits and '.-_' "
            f"(at most {MAX_PROJECT_LENGTH} characters)"
        )
    return canonicalize_name(raw)


@dataclasses.dataclass(frozen=True, slots=True)
class Distribution:
    """What a distribution's filename says about it."""

    filename: str
    name: NormalizedName
    version: Version
    kind: Literal["wheel", "sdist"]


def parse_distribution_filename(filename: str) -> Distribution:
    """Parse a wheel or sdist filename, refusing anything that could act as a path.

    >>> parse_distribution_filename("Foo_Bar-1.0-py3-none-any.whl").name
    'foo-bar'
    """
    if len(filename) > MAX_FILENAME_LENGTH or not _FILENAME_RE.match(filename):
        raise InvalidName(
            f"{filename[:80]!r} is not a valid distribution filename: use the name the build "
            "tool produced (letters, digits and '._+!-' only)"
        )
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            kind: Literal["wheel", "sdist"] = "wheel"
        elif filename.endswith(_SDIST_SUFFIXES):
            name, version = parse_sdist_filename(filename)
            kind = "sdist"
        else:
            raise InvalidName(
                f"{filename!r} is neither a wheel (.whl) nor an sdist (.tar.gz, .zip): "
                "build the project with 'python -m build'"
            )
    except (InvalidWheelFilename, InvalidSdistFilename) as e:
        raise InvalidName(f"{filename!r} is not a valid distribution filename: {e}") from None
    return Distribution(filename=filename, name=name, version=version, kind=kind)


def content_path(digest_hex: str, filename: str) -> str:
    """The blob path of a file by a digest of its content, split 2/2/rest as the public
    index splits its blake2b_256 digests, so that paths never collide and never change.

    >>> content_path("ab" * 32, "x-1.0.tar.gz")
    'packages/ab/ab/abababababababababababababababababababababababababababababab/x-1.0.tar.gz'
    """
    if not re.fullmatch(r"[0-9a-f]{64}", digest_hex):
        raise InvalidName(f"{digest_hex!r} is not a 64-digit hex digest")
    parse_distribution_filename(filename)
    return f"packages/{digest_hex[:2]}/{digest_hex[2:4]}/{digest_hex[4:]}/{filename}"


def check_blob_path(path: str) -> str:
    """Return ``path`` if it is a safe blob path under ``packages/``, else raise.

    Only plain segments are allowed: no empty, ``.`` or ``..`` segment, no backslash,
    NUL or other control character, nothing percent-encoded left over.

    >>> check_blob_path("packages/ab/cd/x-1.0.tar.gz")
    'packages/ab/cd/x-1.0.tar.gz'
    """
    segments = path.split("/")
    if (
        len(path) > _MAX_BLOB_PATH
        or len(segments) < 2
        or segments[0] != "packages"
        or any(
            s in ("", ".", "..") or len(s) > MAX_FILENAME_LENGTH or not _SEGMENT_RE.match(s)
            for s in segments
        )
    ):
        raise InvalidName(f"{path[:120]!r} is not a valid package path")
    return path
