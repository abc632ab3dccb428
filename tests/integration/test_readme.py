"""The documented command lines stay true: every ``blobpi`` invocation in the shell blocks of
README and docs/ parses with the real parser (subcommands, flags, values), and README's
"Operating blobpi" examples run as shown against a real local index, each exiting 0."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import anyio
import pytest

from blobpi.mirror.cli.main import build_parser
from blobpi.mirror.ops.publish import publish
from blobpi.mirror.store.local import LocalStore
from tests.support.dists import build_wheel
from tests.support.processes import BIN, ROOT, client_env

README = (ROOT / "README.md").read_text()
_BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_OPERATORS = {"(", ")", "|", "||", "&", "&&", ";", ">", ">>", "<", "$("}


def _lines(text: str) -> list[str]:
    """Shell lines of the blocks in ``text``, continuations joined, comments kept out."""
    joined = "\n".join(m[1] for m in _BLOCK.finditer(text)).replace("\\\n", " ")
    return [
        line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _invocations(line: str) -> list[list[str]]:
    """The arguments of every ``blobpi`` command in one shell line."""
    if "blobpi" not in line:  # (other lines may be parts of here-documents shlex cannot read)
        return []
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    words = list(lexer)
    found, command_position = [], True
    for i, word in enumerate(words):
        if word in _OPERATORS or word.endswith(("=$", "$")):
            command_position = True
            continue
        if command_position and re.fullmatch(r"\w+=.*", word):
            continue  # VAR=value before a command
        if command_position and re.fullmatch(r"(?:\S*bin/)?blobpi", word):
            args = []
            for arg in words[i + 1 :]:
                if arg in _OPERATORS:
                    break
                args.append(arg)
            found.append(args)
        command_position = False
    return found


DOCS = [README, *(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))]
INVOCATIONS = [args for doc in DOCS for line in _lines(doc) for args in _invocations(line)]


def test_readme__has_blobpi_examples_of_every_family() -> None:
    commands = {args[0] for args in INVOCATIONS}
    assert {"serve", "upload", "sync", "lock", "token", "yank", "azureml", "check"} <= commands
    assert len(INVOCATIONS) >= 25


@pytest.mark.parametrize("args", INVOCATIONS, ids=lambda a: " ".join(a)[:70])
def test_readme__every_blobpi_command_parses(args: list[str]) -> None:
    parsed = build_parser().parse_args(args)
    assert callable(parsed.handler)


def _operating() -> str:
    start = README.index("## Operating blobpi")
    return README[start : README.index("\n## ", start + 3)]


@pytest.mark.slow
def test_readme__operating_examples_run(tmp_path: Path) -> None:
    async def fill() -> None:
        async with LocalStore(str(tmp_path / "data")) as store:
            await store.ensure()
            wheel = build_wheel(tmp_path / "dist", "demo", "1.0")
            with wheel.open("rb") as f:
                await publish(store, wheel.name, f, max_bytes=10**8)

    anyio.run(fill)
    env = client_env({"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)})
    lines = [line for line in _lines(_operating()) if _invocations(line)]
    assert len(lines) >= 3
    for line in lines:
        done = subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (line, done.stdout[-1000:], done.stderr[-1000:])
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["ok"] is True and any(c["name"] == "rehash" for c in report["checks"])
