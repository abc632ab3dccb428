"""Look inside a wheel or sdist: its core metadata, checked against its filename.

Reads only the one metadata member (``*.dist-info/METADATA`` of a wheel, ``PKG-INFO`` of an
sdist), with a size cap, and never extracts anything, so hostile archives cannot write files.
Archive bombs are refused (``UploadRejected``, HTTP 400) within a fixed budget: at most
``MAX_MEMBERS`` members (a zip's count is read from its end record before the central
directory is parsed), ``MAX_INFLATED_BYTES`` of decompressed tar stream and ``MAX_SECONDS``
of work, so a small upload can cost neither much memory nor much CPU.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import tarfile
import time
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
# Far above real distributions (the largest wheels hold ~20,000 files), far below a bomb's.
MAX_MEMBERS = 50_000
MAX_INFLATED_BYTES = 256 * 1024 * 1024  # of tar stream read before PKG-INFO is found
MAX_SECONDS = 10.0
_EOCD, _ZIP64_LOCATOR, _ZIP64_EOCD = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"


class _OverBudget(Exception):
    """Internal: the archive took more than its budget; ``inspect_distribution`` says so."""


class _Budget(io.RawIOBase):
    """A read-only stream over decompressed bytes that stops at the byte and time budget."""

    def __init__(self, inner: gzip.GzipFile) -> None:
        self._inner, self._read, self._deadline = inner, 0, time.monotonic() + MAX_SECONDS

    def readable(self) -> bool:
        return True

    def check_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise _OverBudget(f"took more than {MAX_SECONDS:.0f} s to read")

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        self.check_time()
        data = self._inner.read(len(buffer))
        self._read += len(data)
        if self._read > MAX_INFLATED_BYTES:
            raise _OverBudget(f"inflates to more than {MAX_INFLATED_BYTES >> 20} MiB")
        buffer[: len(data)] = data
        return len(data)


def _zip_entries(fileobj: IO[bytes]) -> int:
    """The member count a zip's end record states (zip64 too), read before ``ZipFile``
    builds an object per member; 0 when there is no end record (``ZipFile`` then refuses)."""
    size = fileobj.seek(0, io.SEEK_END)
    tail_length = min(size, 22 + 0xFFFF)  # the end record and its longest comment
    fileobj.seek(size - tail_length)
    tail = fileobj.read(tail_length)
    fileobj.seek(0)
    at = tail.rfind(_EOCD)
    if at < 0:
        return 0
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    if entries == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == _ZIP64_LOCATOR:
        fileobj.seek(int.from_bytes(tail[at - 12 : at - 4], "little"))
        record = fileobj.read(40)
        fileobj.seek(0)
        if record[:4] == _ZIP64_EOCD:
            entries = int.from_bytes(record[32:40], "little")
    return entries


def _open_zip(fileobj: IO[bytes]) -> zipfile.ZipFile:
    entries = _zip_entries(fileobj)
    if entries > MAX_MEMBERS:
        raise _OverBudget(f"has {entries} members, over {MAX_MEMBERS}")
    return zipfile.ZipFile(fileobj)


@dataclasses.dataclass(frozen=True, slots=True)
class Inspected:
    distribution: Distribution
    metadata: bytes  # the core metadata file, as PEP 658 serves it
    requires_python: str | None


def _wheel_metadata(dist: Distribution, fileobj: IO[bytes]) -> bytes:
    with _open_zip(fileobj) as archive:
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
        with _open_zip(fileobj) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
            if len(names) == 1 and archive.getinfo(names[0]).file_size <= MAX_METADATA_BYTES:
                return archive.read(names[0])
    else:
        budget = _Budget(gzip.GzipFile(fileobj=fileobj, mode="rb"))
        # A stream ("r|"): one pass, no seeking back, each member's header read once.
        with tarfile.open(fileobj=budget, mode="r|") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise _OverBudget(f"has more than {MAX_MEMBERS} members before its PKG-INFO")
                budget.check_time()
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
    except _OverBudget as e:
        raise UploadRejected(
            f"{filename!r} {e}, more than any real {dist.kind} (an archive bomb?): "
            "rebuild it with a standard build backend"
        ) from None
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
