"""The optional Azure ML SDKs, imported only here and only when a function needs them:
``blobpi[azureml]`` (SDK v2, ``azure-ai-ml``) and ``blobpi[azureml-v1]`` (``azureml-core``).
The core never imports either."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from blobpi.mirror.core.errors import ConfigError, MirrorError

__all__ = ["ml_client", "sdk_import", "v1_workspace", "workspace_errors"]


@contextmanager
def sdk_import(extra: str) -> Iterator[None]:
    """Import an optional SDK: a missing extra is a one-line error, and the SDK's own
    import-time deprecation warnings (marshmallow, ruamel) are not ours to show."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            yield
    except ImportError as e:
        raise ConfigError(
            f"the Azure ML SDK is not installed ({e.name}): install blobpi with its "
            f"'{extra}' extra from the checkout or your own index: pip install '.[{extra}]'"
        ) from None


def ml_client(config: Path | None) -> Any:
    """An SDK v2 ``MLClient`` for the workspace in ``config.json`` (as the portal downloads
    it), signed in with ``DefaultAzureCredential`` (az login, or a managed identity)."""
    with sdk_import("azureml"):
        from azure.ai.ml import MLClient
        from azure.identity import DefaultAzureCredential

        return MLClient.from_config(DefaultAzureCredential(), path=str(config) if config else None)


def v1_workspace(config: Path | None) -> Any:
    """An SDK v1 ``Workspace`` from ``config.json``."""
    with sdk_import("azureml-v1"):
        from azureml.core import Workspace

        return Workspace.from_config(path=str(config) if config else None)


@contextmanager
def workspace_errors(what: str, secret: str | None = None) -> Iterator[None]:
    """The SDKs' own exceptions (config.json missing, sign-in failed, no role in the
    workspace) become one line naming the cause; the secret never appears in it."""
    try:
        yield
    except MirrorError:
        raise
    except Exception as e:
        if not type(e).__module__.startswith(("azure.", "azureml.", "msrest")):
            raise
        reason = (str(e).strip().splitlines() or [""])[0][:200]
        if secret:
            reason = reason.replace(secret, "***")
        raise ConfigError(
            f"{what} failed ({type(e).__name__}: {reason}): check config.json "
            "(--workspace-config), az login, and your role in the workspace"
        ) from None
