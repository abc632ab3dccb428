"""``blobpi azureml ...``: point Azure ML environments at the mirror.

- ``environment``: writes ``environment.yml`` + ``conda.yml`` (CLI v2), the v1 files, or with
  ``--build-context`` a pip-only Docker build context, and/or registers it (``--create``);
  from a lock and ``--index-url``, or from the URL lines ``wheel-urls`` printed.
- ``connection``: the ``python_feed`` workspace connection holding the mirror's credentials.
- ``wheel-urls``: blob-URL mode; one ``name @ URL?SAS#sha256=...`` line per pinned requirement.
- ``add-private-wheel``: upload a wheel (as ``blobpi upload``) and print its URL line.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from blobpi.deploy.azure import connection as feed
from blobpi.deploy.azure.buildenv import (
    BuildEnvironmentSpec,
    build_environment_for,
    write_build_context,
)
from blobpi.deploy.azure.environment import (
    DEFAULT_CHANNELS,
    DEFAULT_IMAGE,
    environment_for,
    v1_environment_for,
)
from blobpi.deploy.azure.environment import write_environment as write_v2_environment
from blobpi.deploy.azure.sdk import ml_client, v1_workspace, workspace_errors
from blobpi.deploy.azureml import add_private_wheel, read_lock, read_requirements, wheel_urls_for
from blobpi.deploy.core.requirements import (
    PinnedRequirement,
    as_pip_lines,
    check_locked_python,
    locked_pythons,
)
from blobpi.deploy.core.targets import DEFAULT_PLATFORM, DEFAULT_PYTHON
from blobpi.mirror.cli.index import add_storage_argument
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import Settings

__all__ = ["configure_parser"]


def configure_parser(subparsers: Any) -> None:
    azureml = subparsers.add_parser("azureml", help="point Azure ML environments at the mirror")
    commands = azureml.add_subparsers(dest="azureml_command", required=True, metavar="COMMAND")

    env = commands.add_parser("environment", help="an environment that installs from the mirror")
    env.add_argument(
        "--index-url", help="the mirror, https://HOST/simple/ (not needed for URL lines)"
    )
    env.add_argument(
        "-r", "--requirements", type=Path, required=True,
        help="a pinned lock, or the URL lines wheel-urls printed",
    )  # fmt: skip
    env.add_argument("--name", required=True, help="the environment's name in the workspace")
    env.add_argument(
        "--image",
        default=DEFAULT_IMAGE,
        help="base image, pinned by tag or digest (default: %(default)s)",
    )
    env.add_argument("--python", default=DEFAULT_PYTHON, help="Python version (%(default)s)")
    env.add_argument(
        "--build-context",
        action="store_true",
        help="a Docker build context that installs with pip only (no conda channel)",
    )
    env.add_argument(
        "--conda-channel",
        action="append",
        metavar="URL",
        help="conda mode: a private channel for python and pip (repeatable; "
        f"default: {', '.join(DEFAULT_CHANNELS)})",
    )
    _sdk_and_output(env)
    env.set_defaults(handler=_environment)

    conn = commands.add_parser("connection", help="the python_feed connection (credentials)")
    _index_url(conn)
    who = conn.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--username",
        help=f"basic-auth user; the password is read from ${feed.SECRET_VARIABLE} or a prompt",
    )
    who.add_argument(
        "--token", action="store_true", help=f"a PAT, read from ${feed.SECRET_VARIABLE} or a prompt"
    )
    conn.add_argument("--name", default="blobpi", help="connection name (default: %(default)s)")
    conn.add_argument("--target", help="URL prefix it applies to (default: the index's origin)")
    _sdk_and_output(conn)
    conn.set_defaults(handler=_connection)

    urls = commands.add_parser("wheel-urls", help="SAS blob URLs for pinned requirements")
    urls.add_argument("-r", "--requirements", type=Path, required=True, help="a pinned lock")
    _blob_options(urls)
    urls.add_argument("--python", default=DEFAULT_PYTHON, help="target Python (%(default)s)")
    urls.add_argument("--platform", default=DEFAULT_PLATFORM, help="target (%(default)s)")
    urls.set_defaults(handler=_wheel_urls)

    wheel = commands.add_parser("add-private-wheel", help="upload a wheel, print its URL line")
    wheel.add_argument("file", type=Path, metavar="FILE")
    _blob_options(wheel)
    wheel.set_defaults(handler=_add_private_wheel)
    for sub in (env, conn, urls, wheel):
        sub.add_argument("--json", action="store_true", help="print what was done as JSON")


def _index_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-url", required=True, help="the mirror, https://HOST/simple/")


def _sdk_and_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sdk", choices=("v2", "v1"), default="v2", help="(default: v2)")
    parser.add_argument("-o", "--output", type=Path, help="write the YAML files here")
    parser.add_argument("--create", action="store_true", help="create it in the workspace")
    parser.add_argument("--workspace-config", type=Path, help="config.json of the workspace")


def _blob_options(parser: argparse.ArgumentParser) -> None:
    add_storage_argument(parser)
    parser.add_argument(
        "--expires",
        "--expiry",  # the old spelling, kept working; --expires is every command's name
        dest="expiry",
        default="7d",
        help="URL lifetime, 5m..7d, e.g. 12h (default: 7d)",
    )


def _say(args: argparse.Namespace, text: str, **done: object) -> None:
    """Tell the user what was done: ``text``, or (``--json``) one JSON object of ``done``."""
    if args.json:
        print(json.dumps(done))
    else:
        print(text)


def _outputs(args: argparse.Namespace) -> None:
    if args.output is None and not args.create:
        raise ConfigError("nothing to do: give -o DIR to write the files, --create, or both")


def _locked_pythons(args: argparse.Namespace) -> tuple[str, ...]:
    """The Pythons the lock (already read) was resolved for; ``--python`` must be one."""
    locked = locked_pythons(args.requirements.read_text())
    check_locked_python(args.python, locked, args.requirements.name)
    return locked


def _environment(args: argparse.Namespace, settings: Settings) -> int:
    _outputs(args)
    reqs = read_requirements(args.requirements)
    locked = _locked_pythons(args)
    if args.index_url is None and not all(isinstance(r, str) for r in reqs):
        raise ConfigError(
            f"{args.requirements.name} is a lock, so pip needs the mirror's index: give "
            "--index-url https://HOST/simple/, or the URL lines of blobpi azureml wheel-urls"
        )
    if args.build_context:
        return _build_context(args, reqs, locked)
    channels = tuple(args.conda_channel or DEFAULT_CHANNELS)
    options: dict[str, Any] = {"name": args.name, "image": args.image, "python": args.python}
    entity: Any = None
    if args.sdk == "v1" or args.create:  # writing the v2 files needs no SDK
        build = environment_for if args.sdk == "v2" else v1_environment_for
        entity = build(args.index_url, reqs, channels=channels, **options)
    if args.output is not None:
        if args.sdk == "v2":
            env_file, _ = write_v2_environment(
                args.output, reqs, index_url=args.index_url, channels=channels, **options
            )
            text = f"wrote {env_file} and conda.yml: az ml environment create --file {env_file}"
            _say(args, text, wrote=str(env_file), sdk="v2")
        else:
            entity.save_to_directory(str(args.output), overwrite=True)
            text = f"wrote the v1 environment to {args.output}: Environment.load_from_directory"
            _say(args, text, wrote=str(args.output), sdk="v1")
    if args.create:
        _create(args, entity)
    return 0


def _build_context(
    args: argparse.Namespace, reqs: Sequence[PinnedRequirement | str], locked: tuple[str, ...]
) -> int:
    if args.sdk == "v1" or args.conda_channel:
        raise ConfigError(
            "--build-context is a pip-only SDK v2 environment: drop --sdk v1 and --conda-channel"
        )
    spec = BuildEnvironmentSpec(
        name=args.name,
        pip_lines=as_pip_lines(reqs),
        index_url=args.index_url,
        image=args.image,
        python=args.python,
        locked=locked,
    )
    if args.output is not None:
        env_file = write_build_context(args.output, spec)
        text = (
            f"wrote {env_file} and its build context {args.output / 'context'}: "
            f"az ml environment create --file {env_file}"
        )
        _say(args, text, wrote=str(env_file), context=str(args.output / "context"))
    if args.create:
        with tempfile.TemporaryDirectory() as scratch:  # the SDK uploads it on create
            _create(args, build_environment_for(args.output or Path(scratch), spec))
    return 0


def _create(args: argparse.Namespace, entity: Any) -> None:
    with workspace_errors("creating the environment"):
        if args.sdk == "v2":
            created = ml_client(args.workspace_config).environments.create_or_update(entity)
        else:
            created = entity.register(v1_workspace(args.workspace_config))
    text = f"created environment {created.name} version {created.version}"
    _say(args, text, created=created.name, version=str(created.version))


def _connection(args: argparse.Namespace, settings: Settings) -> int:
    _outputs(args)
    if args.sdk == "v1" and args.username:
        raise ConfigError("SDK v1 connections take a PAT only: use --token, or --sdk v2")
    target = feed.feed_target(args.index_url, args.target)
    secret = feed.read_secret(
        settings.azureml.feed_secret, "password" if args.username else "token"
    )
    common: dict[str, Any] = {"name": args.name, "secret": secret, "target": target}
    if args.output is not None:
        spec = feed.connection_yaml(args.index_url, username=args.username, **common)
        path = feed.write_connection(args.output, spec)
        text = (
            f"wrote {path} (owner-only; it holds the secret): "
            f"az ml connection create --file {path}, then delete it"
        )
        _say(args, text, wrote=str(path))
    if args.create:
        with workspace_errors("creating the connection", secret):
            if args.sdk == "v2":
                connection = feed.connection_for(args.index_url, username=args.username, **common)
                ml_client(args.workspace_config).connections.create_or_update(connection)
            else:
                workspace = v1_workspace(args.workspace_config)
                feed.create_v1_connection(workspace, args.index_url, **common)
        text = f"created python_feed connection {args.name!r} for {target}"
        _say(args, text, created=args.name, target=target)
    return 0


def _wheel_urls(args: argparse.Namespace, settings: Settings) -> int:
    reqs = read_lock(args.requirements)
    _locked_pythons(args)
    lines = anyio.run(
        functools.partial(
            wheel_urls_for,
            settings.storage,
            reqs,
            expiry=args.expiry,
            python=args.python,
            platform=args.platform,
            settings=settings,
        )
    )
    if args.json:
        print(json.dumps({"requirements": list(lines)}))
        return 0
    for line in lines:
        print(line)
    return 0


def _add_private_wheel(args: argparse.Namespace, settings: Settings) -> int:
    line = anyio.run(
        functools.partial(
            add_private_wheel,
            settings.storage,
            args.file,
            expiry=args.expiry,
            max_bytes=settings.server.max_upload_bytes,
            settings=settings,
        )
    )
    _say(args, line, requirement=line)
    return 0
