"""The workspace's ``python_feed`` connection: the credentials an Azure ML image build uses
for an index URL when the mirror has auth on.

At build time Azure ML takes the connection whose target is a prefix of the index URL and
sends its credentials as HTTP basic auth, which the server accepts (a ``read`` token as the
password). The target ends in ``/`` so that ``https://pkgs.example.org`` cannot also match
``https://pkgs.example.org.attacker.net``. The secret comes from ``$BLOBPI_FEED_SECRET`` or a
prompt, never from the command line (argv is visible to every process on the machine).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from blobpi.deploy.azure.environment import check_index_url, to_yaml
from blobpi.deploy.azure.sdk import sdk_import
from blobpi.mirror.core.errors import ConfigError

__all__ = [
    "SECRET_VARIABLE",
    "connection_for",
    "connection_yaml",
    "create_v1_connection",
    "feed_target",
    "read_secret",
    "write_connection",
]

SECRET_VARIABLE = "BLOBPI_FEED_SECRET"


def feed_target(index_url: str, target: str | None = None) -> str:
    """The connection's target: the index's origin, or ``target`` if it is a prefix of it.

    >>> feed_target("https://pkgs.example.org/simple/")
    'https://pkgs.example.org/'
    """
    url = check_index_url(index_url)
    if target is None:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}/"
    if not target.endswith("/"):
        target += "/"
    if not url.startswith(target):
        raise ConfigError(
            f"--target {target!r} is not a prefix of the index URL {url!r}: Azure ML picks the "
            "connection by prefix, so give the index's origin or a path above /simple/"
        )
    return target


def read_secret(secret: str | None, what: str, interactive: bool | None = None) -> str:
    """The secret from ``$BLOBPI_FEED_SECRET`` (``Settings.azureml.feed_secret``), else a
    hidden prompt (by default only on a terminal; notebooks pass ``interactive=True``, as
    their kernels can prompt)."""
    secret = secret or ""
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not secret and interactive:
        secret = getpass.getpass(f"{what} for the mirror (input hidden): ")
    if not secret.strip():
        raise ConfigError(
            f"no {what} given: set {SECRET_VARIABLE} or run on a terminal to be prompted "
            "(it is never taken from the command line)"
        )
    return secret.strip()


def _credentials(secret: str, username: str | None) -> dict[str, str]:
    if username:
        return {"type": "username_password", "username": username, "password": secret}
    return {"type": "pat", "pat": secret}


def connection_yaml(
    index_url: str,
    *,
    name: str,
    secret: str,
    username: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """The CLI v2 YAML (``az ml connection create --file``) as a dict."""
    return {
        "name": name,
        "type": "python_feed",
        "target": feed_target(index_url, target),
        "credentials": _credentials(secret, username),
    }


def write_connection(directory: Path, spec: Mapping[str, Any]) -> Path:
    """Write ``connection.yml`` readable by its owner only: it holds the secret, so create
    the connection from it at once and delete it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "connection.yml"
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Holds a secret: az ml connection create --file this, then delete it.\n")
        out.write(to_yaml(dict(spec)))
    return path


def connection_for(
    index_url: str,
    *,
    name: str,
    secret: str,
    username: str | None = None,
    target: str | None = None,
) -> Any:
    """An SDK v2 ``WorkspaceConnection`` of type ``python_feed``. Register it with
    ``MLClient.connections.create_or_update(connection)``."""
    with sdk_import("azureml"):
        from azure.ai.ml.entities import (
            PatTokenConfiguration,
            UsernamePasswordConfiguration,
            WorkspaceConnection,
        )
    credentials: Any = (
        UsernamePasswordConfiguration(username=username, password=secret)
        if username
        else PatTokenConfiguration(pat=secret)
    )
    return WorkspaceConnection(
        name=name,
        type="python_feed",
        target=feed_target(index_url, target),
        credentials=credentials,
    )


def create_v1_connection(
    workspace: Any, index_url: str, *, name: str, secret: str, target: str | None = None
) -> None:
    """SDK v1: ``Workspace.set_connection`` with category PythonFeed and a PAT, as the v1
    documentation shows (v1 takes no user name)."""
    workspace.set_connection(
        name=name,
        category="PythonFeed",
        target=feed_target(index_url, target),
        authType="PAT",
        value=secret,
    )
