"""``blobpi completion bash|zsh``: a shell completion script, generated from the parser
itself, so it completes exactly the subcommands and flags that exist (files otherwise).

Install: ``eval "$(blobpi completion bash)"`` in ``~/.bashrc``; for zsh, the same line with
``zsh`` (it loads bash completion through ``bashcompinit``)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

__all__ = ["configure_parser", "script"]

_BASH = """_blobpi() {
    local cur="${COMP_WORDS[COMP_CWORD]}" path="" word i words
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${COMP_WORDS[i]}"
        case "$path $word" in
%(paths)s) path="$path $word" ;;
        esac
    done
    case "$path" in
%(words)s
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _blobpi blobpi
"""


def configure_parser(subparsers: Any) -> None:
    completion = subparsers.add_parser("completion", help="print a shell completion script")
    completion.add_argument("shell", choices=["bash", "zsh"])
    completion.set_defaults(handler=_completion)


def _choices(parser: argparse.ArgumentParser) -> list[str]:
    words: list[str] = []
    for action in parser._actions:  # argparse keeps them nowhere public
        if isinstance(action, argparse._SubParsersAction):
            words += list(action.choices)
        elif not action.option_strings and action.choices:
            words += [str(c) for c in action.choices]  # e.g. completion's bash, zsh
        words += [o for o in action.option_strings if o.startswith("--") or len(o) == 2]
    return words


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``parser``'s whole tree of subcommands."""
    from blobpi.mirror.cli.main import subcommands

    tree = [("", parser), *((" " + " ".join(p), sub) for p, sub in subcommands(parser))]
    paths = "|".join(shlex.quote(path) for path, _ in tree if path)
    words = "\n".join(
        f"        {shlex.quote(path)}) words={shlex.quote(' '.join(_choices(sub)))} ;;"
        for path, sub in tree
    )
    body = _BASH % {"paths": f"        {paths}", "words": words}
    if shell == "zsh":
        body = "autoload -U +X bashcompinit && bashcompinit\n" + body
    return body


def _completion(args: argparse.Namespace, settings: object) -> int:
    from blobpi.mirror.cli.main import build_parser

    print(script(build_parser(), args.shell), end="")
    return 0
