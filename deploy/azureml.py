"""The Python API for notebooks: one call from a lock file to an Azure ML environment that
installs only from the mirror, in either of the two ways Azure ML supports::

    from blobpi.deploy.azureml import environment_for, wheel_urls_for
    env = environment_for("https://pkgs.example.org/simple/", "requirements.txt", name="train")
    ml_client.environments.create_or_update(env)

    # blob-URL mode is async: a notebook cell can await it (the CLI wraps it in anyio.run)
    lines = await wheel_urls_for("https://acct.blob.core.windows.net/pkgs", "requirements.txt")
    env = environment_for(None, lines, name="train")
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from blobpi.deploy.azure import connection as _connection
from blobpi.deploy.azure import environment as _environment
from blobpi.deploy.azure.sas import parse_lifetime, url_line, wheel_urls
from blobpi.deploy.core.requirements import (
    PinnedRequirement,
    parse_requirements,
    parse_url_lines,
)
from blobpi.deploy.core.targets import DEFAULT_PLATFORM, DEFAULT_PYTHON, Target
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.names import parse_distribution_filename
from blobpi.mirror.core.settings import Settings
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.settings import load_settings
from blobpi.mirror.store.protocol import open_store
from blobpi.mirror.store.signing import signer_for

__all__ = [
    "add_private_wheel",
    "connection_for",
    "environment_for",
    "read_lock",
    "read_requirements",
    "v1_environment_for",
    "wheel_urls_for",
]

Requirements = str | os.PathLike[str] | Sequence[PinnedRequirement] | Sequence[str]


def read_lock(path: str | os.PathLike[str]) -> tuple[PinnedRequirement, ...]:
    """Parse a pinned (``pip-compile --generate-hashes``) requirements file."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {str(path)!r} ({e.strerror}): give a pinned lock") from None
    return parse_requirements(text, source=Path(path).name)


def read_requirements(
    path: str | os.PathLike[str],
) -> tuple[PinnedRequirement, ...] | tuple[str, ...]:
    """A pinned lock, or the ``name @ URL#sha256=`` lines ``wheel-urls`` printed."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {str(path)!r} ({e.strerror}): give a pinned lock") from None
    urls = parse_url_lines(text, source=Path(path).name)
    return urls if urls is not None else parse_requirements(text, source=Path(path).name)


def _requirements(value: Requirements) -> Sequence[PinnedRequirement] | Sequence[str]:
    """A path is read as a lock or URL lines; a list of either is used as is."""
    if isinstance(value, str | os.PathLike):
        return read_requirements(value)
    return value


def environment_for(
    index_url: str | None, requirements: Requirements, *, name: str, **options: Any
) -> Any:
    """SDK v2 ``Environment``: by index URL, or (``index_url=None``) from blob URL lines.
    Options: ``image``, ``python``, ``description``."""
    return _environment.environment_for(
        index_url, _requirements(requirements), name=name, **options
    )


def v1_environment_for(
    index_url: str | None, requirements: Requirements, *, name: str, **options: Any
) -> Any:
    """SDK v1 ``azureml.core.Environment`` (needs blobpi's ``azureml-v1`` extra)."""
    reqs = _requirements(requirements)
    return _environment.v1_environment_for(index_url, reqs, name=name, **options)


def connection_for(
    index_url: str,
    *,
    name: str = "blobpi",
    username: str | None = None,
    secret: str | None = None,
    target: str | None = None,
) -> Any:
    """SDK v2 ``python_feed`` ``WorkspaceConnection``. Without ``secret``, it is read from
    ``$BLOBPI_FEED_SECRET`` or asked for (hidden input, which notebooks support)."""
    if secret is None:
        what = "password" if username else "token"
        feed_secret = load_settings().azureml.feed_secret
        secret = _connection.read_secret(feed_secret, what, interactive=True)
    return _connection.connection_for(
        index_url, name=name, secret=secret, username=username, target=target
    )


async def wheel_urls_for(
    container_url: str,
    requirements: Requirements,
    *,
    expiry: str = "7d",
    python: str = DEFAULT_PYTHON,
    platform: str = DEFAULT_PLATFORM,
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """``name @ URL?SAS#sha256=...`` lines for a pinned lock (see ``blobpi.deploy.azure.sas``).
    The credentials come from ``settings``, else from ``environ`` (``os.environ`` if None)."""
    reqs = _requirements(requirements)
    if not all(isinstance(r, PinnedRequirement) for r in reqs):
        raise ConfigError("wheel_urls_for takes a lock file or parsed requirements")
    key = (settings or load_settings(environ)).storage_connection_string
    async with open_store(container_url, key) as store:
        return await wheel_urls(
            store,
            [r for r in reqs if isinstance(r, PinnedRequirement)],
            target=Target(python, platform),
            connection_string=key,
            lifetime=parse_lifetime(expiry),
        )


async def add_private_wheel(
    container_url: str,
    path: str | os.PathLike[str],
    *,
    expiry: str = "7d",
    max_bytes: int = 1024**3,
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> str:
    """Upload a wheel (as ``blobpi upload``) and return its ``name @ URL`` line: what SDK
    v1's ``Environment.add_private_pip_wheel`` returned, for a blobpi container."""
    wheel = Path(path)
    if wheel.suffix != ".whl" or not wheel.is_file():
        raise ConfigError(f"{str(wheel)!r} is not a wheel file: build one with 'python -m build'")
    name = parse_distribution_filename(wheel.name).name
    lifetime = parse_lifetime(expiry)
    key = (settings or load_settings(environ)).storage_connection_string
    async with open_store(container_url, key) as store:
        # Sign first: a store that cannot sign URLs must not get the upload either.
        signer, until = await signer_for(store, key, dt.datetime.now(dt.UTC), lifetime)
        await store.ensure()
        with wheel.open("rb") as f:
            published = await publish(store, wheel.name, f, max_bytes=max_bytes)
        return url_line(name, published.file, signer, until)
