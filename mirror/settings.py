"""Settings: read once from the environment (``BLOBPI_*``), then passed explicitly.

Nothing else in blobpi reads ``os.environ``; tests pass a plain dict.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.names import project_name

__all__ = ["Settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise ConfigError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off")


def _number(name: str, raw: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number: set it to e.g. 8080") from None
    if value < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    storage: str = "./data"  # a directory, or a container URL
    host: str = "127.0.0.1"
    port: int = 8080
    page_ttl: float = 2.0  # seconds a cached page is served before it is revalidated
    max_upload_bytes: int = 1024**3
    # Access control (mirror/auth.py). None: anonymous read only when listening on loopback.
    anonymous_read: bool | None = None
    token_file: str | None = None  # tokens in this file instead of state/tokens.json
    auth_failure_limit: int = 10  # failed authentications per client per minute, then 429
    # Names that may be both mirrored and private: the deliberate dependency-confusion override.
    shared_names: frozenset[str] = frozenset()
    # Credentials and other variables the Azure SDK reads, passed through unchanged.
    environ: Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        """Settings from ``BLOBPI_*`` variables; keyword overrides (CLI flags) win.

        >>> Settings.from_env({"BLOBPI_PORT": "9000"}).port
        9000
        """
        values: dict[str, object] = {"environ": dict(environ)}
        if "BLOBPI_STORAGE" in environ:
            values["storage"] = environ["BLOBPI_STORAGE"]
        if "BLOBPI_HOST" in environ:
            values["host"] = environ["BLOBPI_HOST"]
        if "BLOBPI_PORT" in environ:
            values["port"] = int(_number("BLOBPI_PORT", environ["BLOBPI_PORT"], int))
        if "BLOBPI_PAGE_TTL" in environ:
            values["page_ttl"] = _number("BLOBPI_PAGE_TTL", environ["BLOBPI_PAGE_TTL"], float)
        if "BLOBPI_MAX_UPLOAD_BYTES" in environ:
            raw = environ["BLOBPI_MAX_UPLOAD_BYTES"]
            values["max_upload_bytes"] = int(_number("BLOBPI_MAX_UPLOAD_BYTES", raw, int))
        if "BLOBPI_ANONYMOUS_READ" in environ:
            raw = environ["BLOBPI_ANONYMOUS_READ"]
            values["anonymous_read"] = _bool("BLOBPI_ANONYMOUS_READ", raw)
        if environ.get("BLOBPI_TOKEN_FILE"):
            values["token_file"] = environ["BLOBPI_TOKEN_FILE"]
        if "BLOBPI_AUTH_FAILURE_LIMIT" in environ:
            raw = environ["BLOBPI_AUTH_FAILURE_LIMIT"]
            values["auth_failure_limit"] = int(_number("BLOBPI_AUTH_FAILURE_LIMIT", raw, int))
        if "BLOBPI_SHARED_NAMES" in environ:
            values["shared_names"] = _names(environ["BLOBPI_SHARED_NAMES"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def allows_anonymous_read(self) -> bool:
        """``BLOBPI_ANONYMOUS_READ`` if set, else on only when the server listens on loopback.

        >>> Settings(host="0.0.0.0").allows_anonymous_read
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


def _names(raw: str) -> frozenset[str]:
    try:
        return frozenset(project_name(n.strip()) for n in raw.replace(",", " ").split())
    except ValueError as e:
        raise ConfigError(f"BLOBPI_SHARED_NAMES: {e}") from None
