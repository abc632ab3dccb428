"""Pip-only Azure ML environments: the build context (``deploy.core.buildcontext``) on disk,
the CLI v2 YAML that names it (``build: path:``), and the SDK v2 ``Environment`` with a
``BuildContext``, which both load the same directory.

Layout of ``DIR``: ``environment.yml`` (for ``az ml environment create --file``) and
``context/`` (``Dockerfile``, ``requirements.txt``, ``pip.conf``): the YAML stays out of the
context Azure ML uploads and builds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from blobpi.deploy.azure.environment import ENVIRONMENT_SCHEMA, check_index_url, to_yaml
from blobpi.deploy.azure.sdk import sdk_import
from blobpi.deploy.core.buildcontext import build_context

__all__ = ["BuildEnvironmentSpec", "build_environment_for", "write_build_context"]

CONTEXT = "context"


@dataclasses.dataclass(frozen=True, slots=True)
class BuildEnvironmentSpec:
    """What a pip-only environment is: the context's inputs and the workspace's name for it."""

    name: str  # the environment's name in the workspace
    pip_lines: tuple[str, ...]  # a hashed lock's lines, or wheel-urls' ``name @ URL`` lines
    index_url: str | None  # the mirror's simple index; None for URL lines (pip --no-index)
    image: str  # the base image, pinned by tag or digest (``buildcontext.check_image``)
    python: str  # the Python the image must have, when ``locked`` names none
    locked: tuple[str, ...] = ()  # the Pythons the lock was resolved for (its header)
    description: str = ""


def write_build_context(directory: Path, spec: BuildEnvironmentSpec) -> Path:
    """Write ``DIR/context/`` and ``DIR/environment.yml``; returns the YAML's path."""
    index = check_index_url(spec.index_url) if spec.index_url else None
    files = build_context(
        spec.pip_lines, index_url=index, image=spec.image, python=spec.python, locked=spec.locked
    )
    context = directory / CONTEXT
    context.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        (context / filename).write_text(text)
    yaml: dict[str, Any] = {
        "$schema": ENVIRONMENT_SCHEMA,
        "name": spec.name,
        "build": {"path": CONTEXT, "dockerfile_path": "Dockerfile"},
    }
    if spec.description:
        yaml["description"] = spec.description
    env_file = directory / "environment.yml"
    header = "# Written by blobpi azureml environment --build-context; pip from the mirror only.\n"
    env_file.write_text(header + to_yaml(yaml))
    return env_file


def build_environment_for(directory: Path, spec: BuildEnvironmentSpec) -> Any:
    """Write the context to ``directory`` and return the SDK v2 ``Environment`` that builds
    it (``MLClient.environments.create_or_update`` uploads the context)."""
    with sdk_import("azureml"):
        from azure.ai.ml.entities import BuildContext, Environment
    write_build_context(directory, spec)
    return Environment(
        name=spec.name,
        description=spec.description or None,
        build=BuildContext(path=str(directory / CONTEXT), dockerfile_path="Dockerfile"),
    )
