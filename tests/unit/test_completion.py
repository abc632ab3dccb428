"""The generated bash completion, run in a real bash: it completes subcommands at each level
and the flags of the subcommand being typed."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from blobpi.mirror.cli.completion import script
from blobpi.mirror.cli.main import build_parser


def _complete(line: str) -> list[str]:
    words = line.split(" ")
    program = (
        script(build_parser(), "bash")
        + f"COMP_WORDS=({' '.join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        + '_blobpi; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("blobpi sy", ["sync"]),
        (
            "blobpi token ",
            ["-h", "--help", "create", "list", "revoke", "-v", "--verbose", "--config"],
        ),
        ("blobpi token create --sc", ["--scope"]),
        ("blobpi --verbose check --d", ["--deep"]),
        ("blobpi azureml wheel-urls --exp", ["--expires", "--expiry"]),
        ("blobpi completion z", ["zsh"]),
        ("blobpi config show --j", ["--json"]),
    ],
)
def test_completion__bash(line: str, expected: list[str]) -> None:
    assert _complete(line) == expected


def test_completion__zsh_loads_bash_completion() -> None:
    assert script(build_parser(), "zsh").startswith("autoload -U +X bashcompinit")
