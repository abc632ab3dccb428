"""The machine an Azure ML image build installs on, and which mirrored file fits it. Pure.

Blob-URL mode names one file per requirement, so the choice pip would make from an index is
made here instead: among the files of the pinned version, the wheel whose tags (PEP 425, the
platform tags of PEP 600) rank first for the target interpreter and platform, as
``packaging.tags`` orders them (``mirror.core.tags``, which the sync filters share).
Markers (PEP 508) are evaluated for the target, not for the machine this runs on.
"""

from __future__ import annotations

import dataclasses
import re

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from blobpi.deploy.core.requirements import PinnedRequirement
from blobpi.mirror.core.errors import ConfigError, HashMismatch, InvalidName, NotInMirror
from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.core.tags import rank, supported_tags

__all__ = ["DEFAULT_PLATFORM", "DEFAULT_PYTHON", "Target", "choose_wheel"]

# Azure ML's curated base images are Ubuntu 22.04 (glibc 2.35) on x86_64.
DEFAULT_PLATFORM = "manylinux_2_35_x86_64"
DEFAULT_PYTHON = "3.11"
_MANYLINUX_RE = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "i686", "armv7l")


def _platforms(platform: str) -> list[str]:
    """Every platform tag a glibc-based target accepts, most specific first (PEP 600).

    >>> _platforms("manylinux_2_17_x86_64")[:3]
    ['manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux_2_16_x86_64']
    """
    match = _MANYLINUX_RE.match(platform)
    if not match:
        return [platform]
    major, minor, arch = int(match.group(1)), int(match.group(2)), match.group(3)
    tags = []
    for glibc_minor in range(minor, 4, -1):
        tags.append(f"manylinux_{major}_{glibc_minor}_{arch}")
        if (major, glibc_minor) in _LEGACY:
            tags.append(f"{_LEGACY[major, glibc_minor]}_{arch}")
    return [*tags, f"linux_{arch}"]


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    """A CPython version and platform tag, as ``pip download --python-version --platform``."""

    python: str = DEFAULT_PYTHON
    platform: str = DEFAULT_PLATFORM

    def __post_init__(self) -> None:
        if not re.fullmatch(r"3\.\d{1,2}", self.python):
            raise ConfigError(f"--python {self.python!r} is not a CPython version like '3.11'")
        if not re.fullmatch(r"[a-z0-9_]+", self.platform):
            raise ConfigError(
                f"--platform {self.platform!r} is not a platform tag like {DEFAULT_PLATFORM!r}"
            )

    @property
    def version_info(self) -> tuple[int, int]:
        major, minor = self.python.split(".")
        return int(major), int(minor)

    def tags(self) -> tuple[Tag, ...]:
        """Supported tags, best first, as pip would rank them for this interpreter."""
        return supported_tags(self.version_info, [*_platforms(self.platform), "any"])

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker variables of the target (a Linux CPython)."""
        arch = next((a for a in _ARCHES if self.platform.endswith(a)), "")
        linux = self.platform.startswith(("manylinux", "musllinux", "linux"))
        return {
            "python_version": self.python,
            "python_full_version": f"{self.python}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "posix" if linux else "nt",
            "sys_platform": "linux" if linux else "win32",
            "platform_system": "Linux" if linux else "Windows",
            "platform_machine": arch,
            "platform_release": "",
            "platform_version": "",
            "implementation_version": f"{self.python}.0",
            "extra": "",
        }

    def __str__(self) -> str:
        return f"CPython {self.python} on {self.platform}"


def choose_wheel(page: ProjectPage | None, req: PinnedRequirement, target: Target) -> File:
    """The file of ``req``'s pinned version that pip would pick on ``target``.

    Raises ``NotInMirror`` naming the cause (no such project or version in the mirror, no
    wheel for the target), or ``HashMismatch`` for a wheel whose sha256 the lock does not allow.
    """
    if page is None:
        raise NotInMirror(
            f"{req.name!r} (line {req.line_number}) is not in the mirror: add it to the "
            "allow-list and sync, or upload it"
        )
    pinned = Version(req.version)
    versions = [f for f in page.files if _file_version(f.filename) == pinned]
    if not versions:
        raise NotInMirror(
            f"{req.name} {req.version} (line {req.line_number}) is not in the mirror, which has "
            f"{len(page.files)} other file(s) of {req.name!r}: sync that version, or pin one "
            "the mirror holds"
        )
    supported = target.tags()
    best: tuple[int, File] | None = None
    for file in versions:
        if not file.filename.endswith(".whl"):
            continue
        score = rank(parse_wheel_filename(file.filename)[3], supported)
        if score is not None and (best is None or score < best[0]):
            best = (score, file)
    if best is None:
        names = ", ".join(f.filename for f in versions)
        raise NotInMirror(
            f"no wheel of {req.name} {req.version} fits {target} (the mirror has: {names}): "
            "mirror a wheel for that target, or use index-URL mode"
        )
    chosen = best[1]
    allowed = req.sha256s()
    if req.hashes and chosen.sha256 not in allowed:
        raise HashMismatch(
            f"{chosen.filename} in the mirror has sha256 {chosen.sha256}, which line "
            f"{req.line_number} does not allow: re-lock, or check the mirror's copy"
        )
    return chosen


def _file_version(filename: str) -> Version | None:
    try:
        return parse_distribution_filename(filename).version
    except InvalidName:  # a file the mirror should not hold; not ours to judge here
        return None
