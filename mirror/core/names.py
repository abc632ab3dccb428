"""Names: PEP 503 canonical project names and distribution filenames.

Every name a user controls (a project name in a URL, an uploaded filename) passes through
here before it reaches a blob path (``layout``, which checks whole paths), so this is where
hostile names stop: ``..``, NUL bytes, slashes, control characters and over-long names.
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
    "parse_distribution_filename",
    "project_name",
]

MAX_FILENAME_LENGTH = 255  # the common file-system limit for one path segment
MAX_PROJECT_LENGTH = 200

# PEP 508 names: letters, digits, and . _ - inside.
_PROJECT_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
# What appears in real wheel and sdist filenames ('+' local versions, '!' epochs).
_FILENAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*$")
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
