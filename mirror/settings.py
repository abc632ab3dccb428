"""Settings: read once from the environment (``BLOBPI_*``), then passed explicitly.

Nothing else in blobpi reads ``os.environ``; tests pass a plain dict.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from mirror.errors import ConfigError

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
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
