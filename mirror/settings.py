"""The one edge that reads configuration: the process environment, ``blobpi.toml``, and the
index pip is configured with. CLI entry points, ``create_app`` and the notebook API call
``load_settings`` once and pass the ``Settings`` on; nothing else reads ``os.environ``.

``blobpi.toml`` is ``--config``, else ``$BLOBPI_CONFIG``, else ``./blobpi.toml`` when it exists.
The upstream defaults to the index pip itself uses here: ``PIP_INDEX_URL``, else
``pip config get global.index-url``, else pip's own built-in default, read from pip at run
time so that no host name is written into blobpi.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.core.sources import parse_settings

__all__ = ["default_upstream", "load_settings", "read_toml", "with_upstream"]


def read_toml(path: str | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The parsed ``blobpi.toml`` (see the module docstring), or ``{}`` when there is none."""
    chosen = path or environ.get("BLOBPI_CONFIG", "").strip()
    if not chosen and not Path("blobpi.toml").is_file():
        return {}
    file = Path(chosen or "blobpi.toml")
    try:
        return tomllib.loads(file.read_text())
    except OSError as e:
        fix = "--config" if path else "BLOBPI_CONFIG" if chosen else "the file"
        raise ConfigError(f"cannot read {str(file)!r} ({e.strerror}): fix {fix}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{str(file)!r} is not valid TOML ({e}): fix the file") from None


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    config: str | None = None,
    **flags: object,
) -> Settings:
    """Settings from flags (keyword arguments by field path, ``None`` for not given, e.g.
    ``**{"server.port": 9000}``), ``BLOBPI_*`` (``os.environ`` unless given) and the file."""
    env = dict(os.environ if environ is None else environ)
    return parse_settings(env, read_toml(config, env), flags)


def with_upstream(settings: Settings) -> Settings:
    """``settings`` with the upstream resolved: only sync and lock ask pip (a subprocess)."""
    if settings.sync.upstream:
        return settings
    upstream = default_upstream(settings.environ)
    return dataclasses.replace(settings, sync=dataclasses.replace(settings.sync, upstream=upstream))


def default_upstream(environ: Mapping[str, str]) -> str:
    """The index pip is configured with on this machine (see the module docstring)."""
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
