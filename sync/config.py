"""Sync and lock configuration: ``blobpi.toml`` plus ``BLOBPI_*`` variables, read once.

The container job is configured by environment alone, so every setting has a variable:
``BLOBPI_STORAGE``, ``BLOBPI_ALLOWLIST``, ``BLOBPI_UPSTREAM``, ``BLOBPI_CONFIG`` (the
``blobpi.toml`` path) and ``BLOBPI_SHARD`` (``K/N``). Flags win over variables, variables
over the file, the file over the defaults.

The upstream defaults to the index pip itself uses here: ``PIP_INDEX_URL``, else
``pip config get global.index-url``, else pip's own built-in default, read from pip at run
time so that no host name is written into blobpi.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blobpi.mirror.core.errors import ConfigError

__all__ = [
    "Filters",
    "LockConfig",
    "Shard",
    "SyncConfig",
    "default_upstream",
    "load_config",
    "parse_size",
    "platform_tags",
]

DEFAULT_PYTHONS = ("3.10", "3.11", "3.12")  # the CPython versions Azure ML images use
DEFAULT_PLATFORMS = ("x86_64-manylinux_2_28",)
DEFAULT_PLATFORM_TAGS = ("any", "linux_x86_64", "manylinux*_x86_64")  # fnmatch patterns
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@dataclasses.dataclass(frozen=True, slots=True)
class Shard:
    index: int  # 1-based K of K/N
    count: int

    @classmethod
    def parse(cls, raw: str) -> Shard:
        """Parse ``K/N``.

        >>> Shard.parse("2/3")
        Shard(index=2, count=3)
        """
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", raw)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ConfigError(f"shard {raw!r} is not K/N with 1 <= K <= N: use e.g. --shard 1/4")
        return cls(int(match[1]), int(match[2]))

    @property
    def suffix(self) -> str:
        """``""`` for the single shard, else ``-K-of-N``: names its lease and state blobs."""
        return "" if self.count == 1 else f"-{self.index}-of-{self.count}"


@dataclasses.dataclass(frozen=True, slots=True)
class Filters:
    """What a ranged or bare allow-list line may mirror; hashed lines obey the tag filters."""

    python_versions: tuple[str, ...] = DEFAULT_PYTHONS
    platform_tags: tuple[str, ...] = DEFAULT_PLATFORM_TAGS
    sdists: bool = True
    prereleases: bool = False
    latest: int = 0  # keep only the newest N matching versions; 0 keeps all
    max_file_size: int = 0  # bytes; 0 is no limit
    min_age_hours: float = 0.0  # cool-down on PEP 700 upload-time


@dataclasses.dataclass(frozen=True, slots=True)
class LockConfig:
    python_versions: tuple[str, ...] = DEFAULT_PYTHONS
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS  # uv's --python-platform values


@dataclasses.dataclass(frozen=True, slots=True)
class SyncConfig:
    upstream: str
    allowlist: Path = Path("allowlist.txt")
    shard: Shard = Shard(1, 1)
    filters: Filters = Filters()
    lock: LockConfig = LockConfig()
    concurrency: int = 8
    grace_hours: float = 168.0  # how long a pruned file stays before its blob is deleted
    timeout: float = 60.0  # seconds per upstream request (connect and each read)
    retries: int = 4
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    # BLOBPI_SHARED_NAMES: projects whose private uploads are kept beside upstream's files
    shared_names: frozenset[str] = frozenset()


def platform_tags(platforms: tuple[str, ...]) -> tuple[str, ...]:
    """Wheel platform tag patterns (PEP 425, fnmatch) for uv's ``--python-platform`` values,
    so that the sync keeps what the lock resolved for.

    >>> platform_tags(("x86_64-manylinux_2_28", "aarch64-apple-darwin"))
    ('any', 'linux_x86_64', 'macosx_*_arm64', 'macosx_*_universal2', 'manylinux*_x86_64')
    """
    tags = {"any"}
    for platform in platforms:
        arch = platform.split("-")[0] if "-" in platform else "x86_64"
        if "windows" in platform:
            windows = {"x86_64": "win_amd64", "aarch64": "win_arm64", "i686": "win32"}
            tags.add(windows.get(arch, f"win_{arch}"))
        elif "apple" in platform or platform == "macos":
            tags |= {f"macosx_*_{'arm64' if arch == 'aarch64' else arch}", "macosx_*_universal2"}
        elif "musl" in platform:
            tags.add(f"musllinux*_{arch}")
        else:
            tags |= {f"manylinux*_{arch}", f"linux_{arch}"}
    return tuple(sorted(tags))


def parse_size(raw: str | int) -> int:
    """A size in bytes, from a number or text with a binary unit.

    >>> parse_size("1.5 GiB")
    1610612736
    """
    if isinstance(raw, int):
        return raw
    match = _SIZE_RE.match(raw)
    if not match:
        raise ConfigError(f"size {raw!r} is not a size: use e.g. 500MB or 1GiB")
    return int(float(match[1]) * _UNITS[(match[2] or "")[:1].upper()])


def default_upstream(environ: Mapping[str, str]) -> str:
    """The index pip is configured with on this machine (see the module docstring)."""
    if environ.get("PIP_INDEX_URL"):
        return environ["PIP_INDEX_URL"].split()[0]
    try:
        found = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(environ),
        )
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip().split()[0]
    except (OSError, subprocess.TimeoutExpired):
        pass
    from pip._internal.models.index import PyPI  # pip's own default, never spelled here

    return str(PyPI.simple_url)


def _strings(table: Mapping[str, Any], key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(key, default)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"blobpi.toml: {key!r} must be a list of strings, e.g. ['3.11']")
    return tuple(value)


def _filters(table: Mapping[str, Any], lock: LockConfig) -> Filters:
    try:
        return Filters(
            python_versions=_strings(table, "python-versions", lock.python_versions),
            platform_tags=_strings(table, "platform-tags", platform_tags(lock.platforms)),
            sdists=bool(table.get("sdists", True)),
            prereleases=bool(table.get("prereleases", False)),
            latest=int(table.get("latest", 0)),
            max_file_size=parse_size(table.get("max-file-size", 0)),
            min_age_hours=float(table.get("min-age-hours", 0)),
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"blobpi.toml: a [sync] filter has a wrong type ({e})") from None


def load_config(
    environ: Mapping[str, str],
    *,
    config: str | None = None,
    upstream: str | None = None,
    allowlist: str | None = None,
    shard: str | None = None,
) -> SyncConfig:
    """The settings from flags (the keyword arguments), ``BLOBPI_*`` and ``blobpi.toml``."""
    path = config or environ.get("BLOBPI_CONFIG")
    data: dict[str, Any] = {}
    if path or Path("blobpi.toml").is_file():
        file = Path(path or "blobpi.toml")
        try:
            data = tomllib.loads(file.read_text())
        except OSError as e:
            raise ConfigError(
                f"cannot read {str(file)!r} ({e.strerror}): fix BLOBPI_CONFIG"
            ) from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{str(file)!r} is not valid TOML ({e}): fix the file") from None
    lock_table, sync_table = data.get("lock", {}), data.get("sync", {})
    lock = LockConfig(
        python_versions=_strings(lock_table, "python-versions", DEFAULT_PYTHONS),
        platforms=_strings(lock_table, "platforms", DEFAULT_PLATFORMS),
    )
    chosen_upstream = upstream or environ.get("BLOBPI_UPSTREAM") or sync_table.get("upstream")
    try:
        return SyncConfig(
            upstream=str(chosen_upstream or default_upstream(environ)),
            allowlist=Path(
                allowlist
                or environ.get("BLOBPI_ALLOWLIST")
                or sync_table.get("allowlist")
                or "allowlist.txt"
            ),
            shard=Shard.parse(shard or environ.get("BLOBPI_SHARD") or "1/1"),
            filters=_filters(sync_table, lock),
            lock=lock,
            concurrency=max(1, int(sync_table.get("concurrency", 8))),
            grace_hours=float(sync_table.get("grace-hours", 168)),
            timeout=float(sync_table.get("timeout", 60)),
            retries=int(sync_table.get("retries", 4)),
        )
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"blobpi.toml: a [sync] setting has a wrong type ({e})") from None
