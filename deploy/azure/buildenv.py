"""Pip-only Azure ML environments: the build context (``deploy.core.buildcontext``) on disk,
the CLI v2 YAML that names it (``build: path:``), and the SDK v2 ``Environment`` with a
``BuildContext``, which both load the same directory.

Layout of ``DIR``: ``environment.yml`` (for ``az ml environment create --file``) and
``context/`` (``Dockerfile``, ``requirements.txt``, ``pip.conf``): the YAML stays out of the
context Azure ML uploads and builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blobpi.deploy.azure.environment import ENVIRONMENT_SCHEMA, check_index_url, to_yaml
from blobpi.deploy.azure.sdk import sdk_import
from blobpi.deploy.core.buildcontext import build_context
from blobpi.deploy.core.requirements import PinnedRequirement

__all__ = ["build_environment_for", "write_build_context"]

CONTEXT = "context"


def _lines(requirements: Sequence[PinnedRequirement] | Sequence[str]) -> list[str]:
    return [r if isinstance(r, str) else r.pip_line for r in requirements]


def write_build_context(
    directory: Path,
    requirements: Sequence[PinnedRequirement] | Sequence[str],
    *,
    index_url: str | None,
    name: str,
    image: str,
    python: str,
    locked: Sequence[str] = (),
    description: str = "",
) -> Path:
    """Write ``DIR/context/`` and ``DIR/environment.yml``; returns the YAML's path."""
    index = check_index_url(index_url) if index_url else None
    files = build_context(
        _lines(requirements), index_url=index, image=image, python=python, locked=locked
    )
    context = directory / CONTEXT
    context.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        (context / filename).write_text(text)
    spec: dict[str, Any] = {
        "$schema": ENVIRONMENT_SCHEMA,
        "name": name,
        "build": {"path": CONTEXT, "dockerfile_path": "Dockerfile"},
    }
    if description:
        spec["description"] = description
    env_file = directory / "environment.yml"
    header = "# Written by blobpi azureml environment --build-context; pip from the mirror only.\n"
    env_file.write_text(header + to_yaml(spec))
    return env_file


def build_environment_for(
    directory: Path,
    requirements: Sequence[PinnedRequirement] | Sequence[str],
    *,
    index_url: str | None,
    name: str,
    image: str,
    python: str,
    locked: Sequence[str] = (),
    description: str | None = None,
) -> Any:
    """Write the context to ``directory`` and return the SDK v2 ``Environment`` that builds
    it (``MLClient.environments.create_or_update`` uploads the context)."""
    with sdk_import("azureml"):
        from azure.ai.ml.entities import BuildContext, Environment
    write_build_context(
        directory,
        requirements,
        index_url=index_url,
        name=name,
        image=image,
        python=python,
        locked=locked,
        description=description or "",
    )
    return Environment(
        name=name,
        description=description,
        build=BuildContext(path=str(directory / CONTEXT), dockerfile_path="Dockerfile"),
    )
