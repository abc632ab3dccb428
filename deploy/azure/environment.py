"""Azure ML environments that install only from the mirror: the conda file, the CLI v2 YAML,
and the SDK objects (v2 ``azure-ai-ml``; v1 ``azureml-core``, support ended 2026-06-30).

Azure ML builds an image by creating the conda environment, whose ``pip:`` list pip reads as
a requirements file. So the index is chosen there: ``--index-url`` (never
``--extra-index-url``, which would let the public index answer for a private name: dependency
confusion), or ``--no-index`` when every line is a direct blob URL. The SDKs are optional
extras and are imported inside the functions that need them, never by the core.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from blobpi.deploy.azure.sdk import sdk_import
from blobpi.deploy.core.buildcontext import DEFAULT_IMAGE, check_image
from blobpi.deploy.core.requirements import PinnedRequirement, as_pip_lines
from blobpi.mirror.core.errors import ConfigError

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_IMAGE",
    "check_index_url",
    "conda_spec",
    "environment_for",
    "environment_yaml",
    "to_yaml",
    "v1_environment_for",
    "write_environment",
]

DEFAULT_CHANNELS = ("conda-forge",)
ENVIRONMENT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/environment.schema.json"
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_index_url(url: str) -> str:
    """The index URL, checked: http(s), no credentials in it (they go in a workspace
    connection, never into a file the workspace stores), https unless on loopback.

    >>> check_index_url("https://pkgs.example.org/simple")
    'https://pkgs.example.org/simple/'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"index URL {url[:80]!r} is not an http(s) URL: give https://HOST/simple/"
        )
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ConfigError(
            "the index URL has credentials in it, which would be stored in the environment "
            "in clear: drop them and create a python_feed connection (blobpi azureml connection)"
        )
    if parts.query or parts.fragment:
        raise ConfigError("the index URL has a query or fragment: give https://HOST/simple/")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ConfigError(
            f"index URL {url!r} is plain http: use https, since the image build sends the "
            "connection's credentials to it"
        )
    return url if url.endswith("/") else url + "/"


def conda_spec(
    pip_lines: Sequence[str],
    *,
    index_url: str | None,
    python: str = "3.11",
    name: str = "blobpi-env",
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> dict[str, Any]:
    """The conda environment file as a dict: Python and pip from conda, the rest by pip.
    Private channels (``--conda-channel``) come with ``nodefaults``, so conda never falls
    back to its public default channels.

    >>> conda_spec(["a==1"], index_url="https://i/simple/")["dependencies"][2]
    {'pip': ['--index-url https://i/simple/', 'a==1']}
    """
    if index_url is None and not all(" @ " in line for line in pip_lines):
        raise ConfigError(
            "without an index URL every line must be a 'name @ URL' line (blobpi azureml "
            "wheel-urls prints them): give the index URL, or the URL lines"
        )
    option = f"--index-url {check_index_url(index_url)}" if index_url else "--no-index"
    if not channels:
        raise ConfigError("no conda channel: give --conda-channel URL (or use --build-context)")
    private = tuple(channels) != DEFAULT_CHANNELS
    return {
        "name": name,
        "channels": [*channels, "nodefaults"] if private else list(channels),
        "dependencies": [f"python={python}", "pip", {"pip": [option, *pip_lines]}],
    }


def environment_yaml(
    name: str, *, image: str = DEFAULT_IMAGE, conda_file: str = "conda.yml", **extra: str
) -> dict[str, Any]:
    """The CLI v2 environment YAML (``az ml environment create --file``) as a dict."""
    return {
        "$schema": ENVIRONMENT_SCHEMA,
        "name": name,
        "image": check_image(image),
        "conda_file": conda_file,
        **{k: v for k, v in extra.items() if v},
    }


def to_yaml(value: Any, indent: int = 0) -> str:
    """A small YAML writer for dicts, lists and strings: scalars are JSON strings, which YAML
    reads back verbatim, so no pip line can turn into YAML syntax (``: ``, ``#``, ``*``).

    >>> print(to_yaml({"a": ["x", {"b": "y"}]}), end="")
    "a":
      - "x"
      - "b": "y"
    """
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{json.dumps(str(key))}:\n{to_yaml(item, indent + 2)}")
            else:
                lines.append(f"{pad}{json.dumps(str(key))}: {json.dumps(item)}\n")
    elif isinstance(value, list):
        for item in value:
            text = to_yaml(item, indent + 2) if isinstance(item, dict | list) else None
            if text is None:
                lines.append(f"{pad}- {json.dumps(item)}\n")
            else:
                lines.append(f"{pad}- {text.lstrip()}")
    else:
        lines.append(f"{pad}{json.dumps(value)}\n")
    return "".join(lines)


def write_environment(
    directory: Path,
    requirements: Sequence[PinnedRequirement] | Sequence[str],
    *,
    index_url: str | None,
    name: str,
    image: str = DEFAULT_IMAGE,
    python: str = "3.11",
    description: str = "",
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> tuple[Path, Path]:
    """Write ``environment.yml`` and ``conda.yml`` for ``az ml environment create``."""
    lines = as_pip_lines(requirements)
    conda = conda_spec(lines, index_url=index_url, python=python, name=name, channels=channels)
    directory.mkdir(parents=True, exist_ok=True)
    conda_path, env_path = directory / "conda.yml", directory / "environment.yml"
    header = "# Written by blobpi azureml environment; installs only from the mirror.\n"
    conda_path.write_text(header + to_yaml(conda))
    env_path.write_text(
        header + to_yaml(environment_yaml(name, image=image, description=description))
    )
    return env_path, conda_path


def environment_for(
    index_url: str | None,
    requirements: Sequence[PinnedRequirement] | Sequence[str],
    *,
    name: str,
    image: str = DEFAULT_IMAGE,
    python: str = "3.11",
    description: str | None = None,
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> Any:
    """An SDK v2 ``azure.ai.ml.entities.Environment`` that installs only from the mirror:
    by index URL, or (``index_url=None``) from the direct URL lines ``sas.wheel_urls`` made.
    Register it with ``MLClient.environments.create_or_update(env)``."""
    with sdk_import("azureml"):
        from azure.ai.ml.entities import Environment
    lines = as_pip_lines(requirements)
    return Environment(
        name=name,
        image=check_image(image),
        description=description,
        conda_file=conda_spec(
            lines, index_url=index_url, python=python, name=name, channels=channels
        ),
    )


def v1_environment_for(
    index_url: str | None,
    requirements: Sequence[PinnedRequirement] | Sequence[str],
    *,
    name: str,
    image: str = DEFAULT_IMAGE,
    python: str = "3.11",
    channels: Sequence[str] = DEFAULT_CHANNELS,
) -> Any:
    """An SDK v1 ``azureml.core.Environment``. ``CondaDependencies.create()`` quietly adds
    ``--extra-index-url`` and ``--find-links`` for the public index; both are removed, and
    ``set_pip_option`` keeps one option per flag, so ``--index-url`` replaces any other."""
    with sdk_import("azureml-v1"):
        from azureml.core import Environment
        from azureml.core.conda_dependencies import CondaDependencies

        lines = list(as_pip_lines(requirements))
        conda = CondaDependencies.create(
            python_version=python, pip_packages=lines, pin_sdk_version=False
        )
        for option in ("--extra-index-url", "--find-links", "--index-url", "--no-index"):
            conda.remove_pip_option(option)
        conda.set_pip_option(
            f"--index-url {check_index_url(index_url)}" if index_url else "--no-index"
        )
        for channel in list(conda.conda_channels):
            conda.remove_channel(channel)
        for channel in conda_spec([], index_url=None, channels=channels)["channels"]:
            conda.add_channel(channel)
        env = Environment(name=name)
        env.docker.base_image = check_image(image)
        env.python.conda_dependencies = conda
    return env
