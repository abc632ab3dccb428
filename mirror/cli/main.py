"""The ``blobpi`` command. Each family of subcommands lives in its own module, which adds
its parsers in ``configure_parser(subparsers)`` and sets ``handler(args, settings) -> int``;
``main`` builds the one ``Settings`` from the flags, ``BLOBPI_*`` and ``blobpi.toml``.

Errors a user can cause end as one line on stderr, ``blobpi: error: <cause and fix>``, and
exit status 1 (2 for a bad command line, 130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Mapping, Sequence

from blobpi.mirror.core.errors import MirrorError
from blobpi.mirror.settings import load_settings

__all__ = ["build_parser", "main"]

# argparse destinations that are settings, and the settings field each one overrides.
_FLAGS = {
    "storage": "storage",
    "host": "server.host",
    "port": "server.port",
    "token_file": "server.token_file",
    "upstream": "sync.upstream",
    "allowlist": "sync.allowlist",
    "shard": "sync.shard",
}

# Modules that add subcommands, in the order of `blobpi --help`.
_COMMAND_MODULES = (
    "blobpi.mirror.cli.index",
    "blobpi.mirror.cli.admin",
    "blobpi.mirror.cli.sync",
    "blobpi.mirror.cli.azureml",
    "blobpi.mirror.cli.check",
    "blobpi.mirror.cli.config",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blobpi",
        description="A curated, private Python package index in an Azure Blob Storage container.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMAND_MODULES:
        importlib.import_module(module).configure_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The Azure SDK logs every request URL at INFO; keep it quiet unless asked.
    logging.getLogger("azure").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        flags = {field: getattr(args, dest, None) for dest, field in _FLAGS.items()}
        settings = load_settings(environ, config=getattr(args, "config", None), **flags)
        return int(args.handler(args, settings))
    except MirrorError as e:
        print(f"blobpi: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("blobpi: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
