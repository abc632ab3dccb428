"""Look inside a wheel or sdist: its core metadata, checked against its filename.

Reads only the one metadata member (``*.dist-info/METADATA`` of a wheel, ``PKG-INFO`` of an
sdist), with a size cap, and never extracts anything, so hostile archives cannot write files
or exhaust memory.
"""

from __future__ import annotations

import dataclasses
import tarfile
import zipfile
from email.parser import BytesParser
from email.policy import compat32
from typing import IO

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.errors import UploadRejected
from blobpi.mirror.core.names import Distribution, parse_distribution_filename

__all__ = ["Inspected", "inspect_distribution"]

MAX_METADATA_BYTES = 8 * 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Inspected:
    distribution: Distribution
    metadata: bytes  # the core metadata file, as PEP 658 serves it
    requires_python: str | None


def _wheel_metadata(dist: Distribution, fileobj: IO[bytes]) -> bytes:
    with zipfile.ZipFile(fileobj) as archive:
        candidates = [
            info
            for info in archive.infolist()
            if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            raise UploadRejected(
                f"{dist.filename!r} has {len(candidates)} .dist-info/METADATA files, "
                "not one: rebuild it with a standard build backend"
            )
        if candidates[0].file_size > MAX_METADATA_BYTES:
            raise UploadRejected(f"{dist.filename!r}: its METADATA is over 8 MiB")
        return archive.read(candidates[0])


def _sdist_metadata(dist: Distribution, fileobj: IO[bytes]) -> bytes:
    if dist.filename.endswith(".zip"):
        with zipfile.ZipFile(fileobj) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
            if len(names) == 1 and archive.getinfo(names[0]).file_size <= MAX_METADATA_BYTES:
                return archive.read(names[0])
    else:
        with tarfile.open(fileobj=fileobj, mode="r:gz") as archive:
            for member in archive:
                if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    if not member.isfile() or member.size > MAX_METADATA_BYTES:
                        break
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        return extracted.read()
    raise UploadRejected(
        f"{dist.filename!r} has no top-level PKG-INFO: build the sdist with 'python -m build'"
    )


def inspect_distribution(filename: str, fileobj: IO[bytes]) -> Inspected:
    """Read and check the metadata of the distribution in ``fileobj`` (seekable)."""
    dist = parse_distribution_filename(filename)
    try:
        if dist.kind == "wheel":
            raw = _wheel_metadata(dist, fileobj)
        else:
            raw = _sdist_metadata(dist, fileobj)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise UploadRejected(f"{filename!r} is not a readable {dist.kind} ({e})") from None
    message = BytesParser(policy=compat32).parsebytes(raw)
    name, version = message.get("Name"), message.get("Version")
    if not name or not version:
        raise UploadRejected(f"{filename!r}: its metadata has no Name or no Version")
    if canonicalize_name(str(name)) != dist.name:
        raise UploadRejected(
            f"{filename!r}: the metadata names the project {str(name)!r}, the filename "
            f"{dist.name!r}: rebuild it, or rename nothing by hand"
        )
    try:
        same_version = Version(str(version)) == dist.version
    except InvalidVersion:
        same_version = False
    if not same_version:
        raise UploadRejected(
            f"{filename!r}: the metadata says version {str(version)!r}, the filename "
            f"{str(dist.version)!r}: rebuild it, or rename nothing by hand"
        )
    requires_python = str(message.get("Requires-Python") or "").strip() or None
    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier:
            raise UploadRejected(
                f"{filename!r}: Requires-Python {requires_python[:80]!r} is not a valid "
                "version specifier (PEP 440): fix it in the project's metadata and rebuild"
            ) from None
    return Inspected(dist, raw, requires_python)
