"""The ``blobpi`` command. Each family of subcommands lives in its own module, which adds
its parsers in ``configure_parser(subparsers)`` and sets ``handler(args, settings) -> int``;
``main`` builds the one ``Settings`` from the flags, ``BLOBPI_*`` and ``blobpi.toml``.

Errors a user can cause end as one line on stderr, ``blobpi: error: <cause and fix>``, and
exit status 1 (2 for a bad command line, 130 for Ctrl-C). ``-v`` works before or after the
subcommand; every subcommand's ``--help`` ends with examples (``cli/examples.py``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence

from blobpi.mirror.cli.examples import EXAMPLES
from blobpi.mirror.cli.interrupt import Interrupted, stop_on_sigterm
from blobpi.mirror.cli.logs import configure_logging
from blobpi.mirror.core.errors import MirrorError
from blobpi.mirror.settings import load_settings
from blobpi.mirror.store.protocol import redact_url

__all__ = ["build_parser", "main"]

_log = logging.getLogger("blobpi.cli")

# argparse destinations that are settings, and the settings field each one overrides.
_FLAGS = {
    "storage": "storage",
    "host": "server.host",
    "port": "server.port",
    "http_server": "server.http_server",
    "workers": "server.workers",
    "downloads": "server.downloads",
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
    "blobpi.mirror.cli.curation",
    "blobpi.mirror.cli.azureml",
    "blobpi.mirror.cli.check",
    "blobpi.mirror.cli.config",
    "blobpi.mirror.cli.completion",
)


EXIT_CODES = """exit status:
  0    done; for check, sync and lock --check: all is well
  1    an error a user can fix (the message says how), or a check that failed
  2    a bad command line
  130  interrupted (Ctrl-C); 143 stopped by SIGTERM (a container's stop), sync and check
"""


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every subcommand's parser, with its path (``("token", "create")``), depth first."""
    for action in parser._actions:  # argparse keeps the subparsers nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


_CONFIG_HELP = "blobpi.toml (default: $BLOBPI_CONFIG, else ./blobpi.toml)"


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; an unknown flag is reported with its subcommand's usage, not the top
    level's (argparse leaves the extras for the top-level parser to refuse)."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


class _Version(argparse.Action):
    """``--version``: the installed version, looked up only when asked (importlib.metadata
    and the scan of the installed distributions cost every command's start a tenth of
    ``blobpi sync --help``)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        import importlib.metadata

        print(f"blobpi {importlib.metadata.version('blobpi')}")  # stdout, as argparse's own
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blobpi",
        description="A curated, private Python package index in an Azure Blob Storage container.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    verbose = "show blobpi's own decisions; -vv adds the HTTP and Azure libraries' debug lines"
    parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _COMMAND_MODULES:
        importlib.import_module(module).configure_parser(subparsers)
    for path, sub in subcommands(parser):
        # SUPPRESS: a -v before the subcommand is not reset by the subcommand's default
        sub.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=verbose)
        if "config" not in {a.dest for a in sub._actions}:  # check, sync, config show: their own
            sub.add_argument("--config", default=argparse.SUPPRESS, help=_CONFIG_HELP)
        # the deepest parser a command line reaches sets this last: its usage goes with errors
        sub.set_defaults(_parser=sub)
        examples = EXAMPLES.get(" ".join(path))
        if examples and not sub.epilog:
            sub.epilog = "examples:\n" + "".join(f"  {line}\n" for line in examples)
            sub.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    with stop_on_sigterm():
        return _main(argv, environ)


def _main(argv: Sequence[str] | None, environ: Mapping[str, str] | None) -> int:
    try:
        args = _parse(build_parser(), argv)
        configure_logging(args.verbose)
        flags = {field: getattr(args, dest, None) for dest, field in _FLAGS.items()}
        settings = load_settings(environ, config=getattr(args, "config", None), **flags)
        _log.debug(
            "storage %s, upstream %s, allow-list %s, shard %d/%d (blobpi config show says why)",
            redact_url(settings.storage) if "://" in settings.storage else settings.storage,
            redact_url(settings.sync.upstream) if settings.sync.upstream else "pip's index",
            settings.sync.allowlist,
            settings.sync.shard.index,
            settings.sync.shard.count,
        )
        return int(args.handler(args, settings))
    except MirrorError as e:
        print(f"blobpi: error: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(e.message, file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("blobpi: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
