"""The index model: frozen dataclasses for the simple API, with the PEP text beside each field.

Implements the data of PEP 503 and PEP 691 (api-version 1.4), PEP 592 (yanked), PEP 629
(repository version), PEP 658/714 (core metadata), PEP 700 (versions, size, upload-time),
PEP 740 (provenance) and PEP 792 (project status: active, archived, quarantined,
deprecated). A project's stored JSON page is its record: ``ProjectPage.from_json`` reads it
back, so the container needs no other database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.layout import file_link, linked_path

__all__ = [
    "API_VERSION",
    "File",
    "Origin",
    "ProjectList",
    "ProjectPage",
    "STATUSES",
    "Status",
    "format_upload_time",
    "parse_upload_time",
    "status_fields",
]

API_VERSION = "1.4"  # 1.1 PEP 700 (versions, size, upload-time), 1.3 PEP 740, 1.4 PEP 792
Origin = Literal["mirror", "private"]
Status = Literal["active", "archived", "quarantined", "deprecated"]  # PEP 792
STATUSES: tuple[Status, ...] = ("active", "archived", "quarantined", "deprecated")


def parse_upload_time(raw: str | None) -> dt.datetime | None:
    """PEP 700: an ISO 8601 UTC time, ``yyyy-mm-ddThh:mm:ss.ffffffZ``, fraction optional.

    >>> parse_upload_time("2010-06-29T19:56:36.719942Z").year
    2010
    """
    if raw is None:
        return None
    parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def format_upload_time(value: dt.datetime) -> str:
    """PEP 700's format, always with microseconds.

    >>> format_upload_time(dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC))
    '2024-01-02T03:04:05.000006Z'
    """
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclasses.dataclass(frozen=True, slots=True)
class File:
    filename: str
    url: str  # PEP 503/691: absolute, or relative to the page's URL
    hashes: Mapping[str, str]  # PEP 691: hash name -> hex digest; we always carry sha256
    requires_python: str | None = None  # PEP 503 data-requires-python / 691 requires-python
    yanked: bool | str = False  # PEP 592: False, True, or a non-empty reason
    size: int | None = None  # PEP 700: bytes; required from api-version 1.1
    upload_time: dt.datetime | None = None  # PEP 700: UTC
    core_metadata: bool | Mapping[str, str] = False  # PEP 658/714: hashes of the .metadata
    provenance: str | None = None  # PEP 740: URL of the provenance file, or None

    def __post_init__(self) -> None:
        if self.yanked == "":
            raise ValueError("PEP 592: a yank reason must be non-empty; use True for none")
        if self.size is not None and self.size < 0:
            raise ValueError(f"negative size {self.size!r} for {self.filename!r}")
        if self.upload_time is not None and self.upload_time.tzinfo is None:
            raise ValueError("upload_time must be timezone-aware (PEP 700 times are UTC)")

    @classmethod
    def stored(cls, blob_path: str, **fields: Any) -> File:
        """A file in our container, linked relative to its project page."""
        return cls(url=file_link(blob_path), **fields)

    @property
    def blob_path(self) -> str | None:
        """The container path of a file that ``File.stored`` made; None for other URLs."""
        return linked_path(self.url)

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> File:
        """Read one PEP 691 file dict. ``dist-info-metadata`` is the PEP 658 spelling that
        PEP 714 renamed; either is accepted."""
        metadata = raw.get("core-metadata", raw.get("dist-info-metadata", False))
        return cls(
            filename=raw["filename"],
            url=raw["url"],
            hashes=dict(raw.get("hashes", {})),
            requires_python=raw.get("requires-python") or None,
            yanked=raw.get("yanked", False) or False,
            size=raw.get("size"),
            upload_time=parse_upload_time(raw.get("upload-time")),
            core_metadata=dict(metadata) if isinstance(metadata, Mapping) else bool(metadata),
            provenance=raw.get("provenance"),
        )


def _version_key(filename_version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(filename_version))
    except InvalidVersion:  # legacy versions sort first, by text
        return (0, filename_version)


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectPage:
    name: NormalizedName  # PEP 691: the normalized name
    files: tuple[File, ...] = ()
    versions: tuple[str, ...] = ()  # PEP 700: every version, including those without files
    origin: Origin | None = None  # ours, kept under meta["_origin"]: mirror or private
    last_serial: int | None = None  # the upstream's serial when mirrored (meta "_last-serial")
    # PEP 792 "project-status": None is active, the default; a quarantined project lists no
    # files ("the index MUST NOT offer any distributions of the project for download")
    status: Status | None = None
    status_reason: str | None = None  # PEP 792: free text, only with a status

    def __post_init__(self) -> None:
        if canonicalize_name(self.name) != self.name:
            raise ValueError(f"project name {self.name!r} is not normalized")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"PEP 792: {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.status == "quarantined" and self.files:
            raise ValueError(f"PEP 792: quarantined {self.name!r} must list no files")
        if self.status_reason is not None and self.status is None:
            raise ValueError("PEP 792: a status reason needs a status")
        names = [f.filename for f in self.files]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate filenames in the page of {self.name!r}")

    @classmethod
    def build(
        cls,
        name: NormalizedName,
        files: Iterable[File],
        versions: Iterable[str],
        **fields: Any,
    ) -> ProjectPage:
        """A page in canonical order: files by filename, versions by PEP 440 order."""
        ordered = tuple(sorted(files, key=lambda f: f.filename))
        return cls(
            name=name,
            files=ordered,
            versions=tuple(sorted(set(versions), key=_version_key)),
            **fields,
        )

    def file(self, filename: str) -> File | None:
        return next((f for f in self.files if f.filename == filename), None)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProjectPage:
        meta = raw.get("meta", {})
        return cls.build(
            name=canonicalize_name(raw["name"]),
            files=(File.from_json(f) for f in raw.get("files", [])),
            versions=raw.get("versions", []),
            origin=meta.get("_origin"),
            last_serial=meta.get("_last-serial"),
            **status_fields(raw.get("project-status")),
        )


def status_fields(raw: object) -> dict[str, Any]:
    """``status`` and ``status_reason`` from PEP 792's ``project-status`` object; active and
    unknown values (a newer index's) read as no status.

    >>> status_fields({"status": "archived", "reason": "moved to demo2"})
    {'status': 'archived', 'status_reason': 'moved to demo2'}
    """
    if not isinstance(raw, Mapping) or raw.get("status") not in STATUSES[1:]:
        return {}
    reason = raw.get("reason")
    return {"status": raw["status"], "status_reason": reason if isinstance(reason, str) else None}


@dataclasses.dataclass(frozen=True, slots=True)
class ProjectList:
    """The root page: every project the index serves (PEP 503 /simple/, PEP 691 projects)."""

    projects: tuple[NormalizedName, ...] = ()

    def __post_init__(self) -> None:
        if list(self.projects) != sorted(set(self.projects)):
            raise ValueError("projects must be unique and sorted; use ProjectList.of()")

    @classmethod
    def of(cls, names: Iterable[NormalizedName]) -> ProjectList:
        return cls(tuple(sorted(set(names))))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProjectList:
        return cls.of(canonicalize_name(p["name"]) for p in raw.get("projects", []))
