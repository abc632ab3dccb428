"""The command line's surface: every subcommand's ``--help`` has examples, and each example
parses with the real parser; ``-v`` works after the subcommand; ``--version``; one duration
syntax for every ``--expires``."""

from __future__ import annotations

import datetime as dt
import shlex

import pytest

from blobpi.mirror.cli.examples import EXAMPLES
from blobpi.mirror.cli.main import build_parser, subcommands
from blobpi.mirror.core.durations import parse_duration
from blobpi.mirror.core.errors import ConfigError


def _argv(example: str) -> list[str]:
    """The arguments of a shell example: no ``VAR=value`` prefix, no redirection or pipe."""
    words = shlex.split(example)
    while "=" in words[0] and not words[0].startswith("-"):
        words.pop(0)
    assert words[0] == "blobpi", example
    cut = next((i for i, w in enumerate(words) if w in (">", "|")), len(words))
    return words[1:cut]


def test_cli__every_subcommand_has_examples() -> None:
    paths = {" ".join(path) for path, _ in subcommands(build_parser())}
    assert paths - set(EXAMPLES) == set()
    assert set(EXAMPLES) - paths == set()  # no example for a command that is gone
    for path, sub in subcommands(build_parser()):
        assert sub.epilog and sub.epilog.startswith("examples:"), path
        assert "  blobpi " in sub.format_help(), path


@pytest.mark.parametrize(
    "example", [e for examples in EXAMPLES.values() for e in examples], ids=lambda e: e[:60]
)
def test_cli__each_example_parses(example: str) -> None:
    args = build_parser().parse_args(_argv(example))
    assert callable(args.handler)


@pytest.mark.parametrize(
    ("argv", "verbosity"),
    [
        (["sync", "--dry-run"], 0),
        (["-v", "sync", "--dry-run"], 1),
        (["sync", "--dry-run", "-v"], 1),
        (["sync", "-vv"], 2),
        (["token", "list", "-v"], 1),
        (["azureml", "wheel-urls", "-r", "x.txt", "-v"], 1),
    ],
)
def test_cli__verbose_before_or_after_the_subcommand(argv: list[str], verbosity: int) -> None:
    assert build_parser().parse_args(argv).verbose == verbosity


def test_cli__version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip().startswith("blobpi ")


def test_cli__help_documents_exit_codes() -> None:
    text = build_parser().format_help()
    for code in ("0 ", "1 ", "2 ", "130"):
        assert f"  {code}" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30m", dt.timedelta(minutes=30)),
        ("12h", dt.timedelta(hours=12)),
        ("90d", dt.timedelta(days=90)),
        ("2w", dt.timedelta(weeks=2)),
        ("45s", dt.timedelta(seconds=45)),
    ],
)
def test_durations__one_syntax(raw: str, expected: dt.timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["", "0d", "90", "d", "-1d", "1y", "1.5d", "1 d"])
def test_durations__refuses_with_the_flag_and_an_example(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"^--expires .* is not a duration: use e\.g\. 30m"):
        parse_duration(raw)
