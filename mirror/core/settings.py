"""The one settings object: frozen parts for the server, the sync, the lock and Azure ML.

Pure values only. ``blobpi.mirror.core.sources`` builds them from flags, ``BLOBPI_*``
variables and ``blobpi.toml``; ``blobpi.mirror.settings.load_settings`` is the one edge that
reads the process environment and the file. Everything else is passed a ``Settings``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.layout import shard_suffix

__all__ = [
    "BLOCK_LEVELS",
    "DEFAULT_PLATFORMS",
    "DEFAULT_PYTHONS",
    "AzureMLSettings",
    "CurationConfig",
    "Filters",
    "LockConfig",
    "ServerSettings",
    "Settings",
    "Shard",
    "SyncConfig",
    "platform_tags",
]

DEFAULT_PYTHONS = ("3.10", "3.11", "3.12")  # the CPython versions Azure ML images use
DEFAULT_PLATFORMS = ("x86_64-manylinux_2_28",)
# block-severity values, least to most blocking at the ends: none blocks malware only, any all
BLOCK_LEVELS = ("none", "low", "moderate", "high", "critical", "any")
DEFAULT_PLATFORM_TAGS = ("any", "linux_x86_64", "manylinux*_x86_64")  # fnmatch patterns


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
        return shard_suffix(self.index, self.count)


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
    # "" until resolved: the edge asks pip for its index only for the commands that sync or lock
    upstream: str = ""
    allowlist: Path = Path("allowlist.txt")
    shard: Shard = Shard(1, 1)
    filters: Filters = Filters()
    concurrency: int = 8
    grace_hours: float = 168.0  # how long a pruned file stays before its blob is deleted
    timeout: float = 60.0  # seconds per upstream request (connect and each read)
    retries: int = 4
    backoff: float = 0.5  # seconds before the first retry; doubles each time
    # Corporate networks (sync/io/network.py): the system trust store is always used, as pip
    # does; ca_bundle adds a PEM file (a TLS-inspecting proxy's CA). Proxy URLs may carry
    # credentials, so they stay out of reprs.
    ca_bundle: Path | None = None
    https_proxy: str | None = dataclasses.field(default=None, repr=False)
    http_proxy: str | None = dataclasses.field(default=None, repr=False)
    no_proxy: str | None = None  # comma-separated hosts, domains, IPs/CIDRs, or "*"
    # Origins the sync may fetch from besides the upstream's own (a separate files host):
    # every URL and every redirect hop is held to these (sync/core/origins.py).
    upstream_origins: tuple[str, ...] = ()
    # A run that would take more than this share of a shard's projects off the index refuses,
    # unless asked with --allow-mass-removal: a cut or emptied lock must not empty the index.
    max_removal_share: float = 0.25


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    page_ttl: float = 2.0  # seconds a cached page is served before it is revalidated
    # The HTTP server under the app (mirror/cli/serving.py): granian measured 3.7x
    # uvicorn's page requests per core for the same app (README, Performance).
    # uvicorn by default: granian is faster (README, Performance) but keeps a connection that
    # never sends a byte open; choose it behind an ingress that cuts those (Container Apps).
    http_server: str = "uvicorn"
    workers: int = 1  # server processes; each keeps its own page cache
    access_log: bool = True  # a blobpi.access line per request (the benchmarks turn it off)
    max_upload_bytes: int = 1024**3
    # Access control (mirror/server/auth.py). None: anonymous read only when on loopback.
    anonymous_read: bool | None = None
    token_file: str | None = None  # tokens in this file instead of state/tokens.json
    auth_failure_limit: int = 10  # failed authentications per client per minute, then 429
    # APPLICATIONINSIGHTS_CONNECTION_STRING: traces to Azure Monitor (server/telemetry.py)
    telemetry: str | None = dataclasses.field(default=None, repr=False)
    # Proxies whose X-Forwarded-For names the client (addresses or networks); none by
    # default, so no caller, not even a local one, can choose the address it is limited by.
    trusted_proxies: tuple[str, ...] = ()
    header_timeout: float = 10.0  # seconds for a request's headers to arrive, then closed
    body_timeout: float = 30.0  # seconds a request body may pause, then 408
    # How /packages/ downloads are answered (server/redirects.py): "stream" through the
    # server, or "redirect" to a read SAS for that one blob (a container store only), so
    # the bytes go from the blob service to the client directly.
    downloads: str = "stream"
    # How long a redirect's SAS is valid; bucketed, so it is between 7/8 of this and all.
    redirect_lifetime: dt.timedelta = dt.timedelta(minutes=15)

    @property
    def allows_anonymous_read(self) -> bool:
        """``BLOBPI_ANONYMOUS_READ`` if set, else on only when the server listens on loopback.

        >>> ServerSettings(host="0.0.0.0").allows_anonymous_read
        False
        """
        if self.anonymous_read is not None:
            return self.anonymous_read
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclasses.dataclass(frozen=True, slots=True)
class CurationConfig:
    """What keeps bad releases out (sync.core.gate): the OSV database and the policy."""

    # The OSV export's all.zip for PyPI; the sync keeps a copy in state/osv/. "" for none.
    osv_url: str = ""
    # Advisories at least this severe block a pin (none, low, moderate, high, critical, any);
    # malware always does.
    block_severity: str = "high"


@dataclasses.dataclass(frozen=True, slots=True)
class AzureMLSettings:
    # BLOBPI_FEED_SECRET: the python_feed connection's token or password (never a flag)
    feed_secret: str | None = dataclasses.field(default=None, repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    storage: str = "./data"  # a directory, or a container URL
    # AZURE_STORAGE_CONNECTION_STRING: the account key for an http(s) --storage (Azurite)
    storage_connection_string: str | None = dataclasses.field(default=None, repr=False)
    # Names that may be both mirrored and private: the deliberate dependency-confusion override.
    shared_names: frozenset[str] = frozenset()
    server: ServerSettings = ServerSettings()
    sync: SyncConfig = SyncConfig()
    lock: LockConfig = LockConfig()
    curation: CurationConfig = CurationConfig()
    azureml: AzureMLSettings = AzureMLSettings()
    # The environment child processes (pip, uv) get; blobpi itself reads no variable from it.
    environ: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)


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
