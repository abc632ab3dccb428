"""Rules of the source tree that import-linter cannot see: only the settings edge
(``mirror/settings.py``) reads the environment, everything else is passed ``Settings``, and
every module opens with a docstring whose first line says what
it is."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mirror", "sync", "deploy")
SETTINGS_EDGE = ROOT / "mirror/settings.py"  # load_settings: the one reader of os.environ
_SKIP = {".venv", ".tools", "data", "node_modules", ".git"}
_ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _modules(*folders: str) -> list[Path]:
    roots = [ROOT / f for f in folders] if folders else [ROOT]
    return sorted(
        p
        for root in roots
        for p in root.rglob("*.py")
        if not _SKIP.intersection(p.relative_to(ROOT).parts)
        and p.relative_to(ROOT).parts[:2] != ("bench", "out")  # the peers' venvs (make bench)
    )


def environment_reads(source: str) -> list[int]:
    """Lines that read or change the process environment (``os.environ``, ``getenv``, ...).

    >>> environment_reads("import os\\nx = os.environ['A']\\nfrom os import getenv\\n")
    [2, 3]
    """
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in _ENV_NAMES:
            if isinstance(node.value, ast.Name) and node.value.id in ("os", "posix", "nt"):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix", "nt"):
            if any(alias.name in _ENV_NAMES for alias in node.names):
                lines.append(node.lineno)
    return sorted(lines)


def test_environment_reads__finds_the_ways_in() -> None:
    source = "import os\nos.getenv('A')\nos.environ.get('B')\nfrom os import environ as e\n"
    assert environment_reads(source) == [2, 3, 4]
    assert environment_reads("environ = {}\nenviron['A']\nsettings.environ['A']\n") == []


@pytest.mark.parametrize(
    "path",
    [p for p in _modules(*PACKAGES) if p != SETTINGS_EDGE],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_modules__only_the_settings_edge_reads_the_environment(path: Path) -> None:
    assert environment_reads(path.read_text()) == [], (
        f"{path.relative_to(ROOT)} reads the environment: add the key to "
        "mirror/core/sources.py and take it from the Settings passed in"
    )


def test_settings_edge__exists_and_reads_the_environment() -> None:
    assert environment_reads(SETTINGS_EDGE.read_text()) != []  # else the exemption is stale


def test_modules__open_with_a_docstring() -> None:
    missing = []
    for path in _modules():
        doc = ast.get_docstring(ast.parse(path.read_text()), clean=False)
        if not doc or not doc.split("\n", 1)[0].strip():
            missing.append(str(path.relative_to(ROOT)))
    assert missing == [], f"modules without an opening docstring: {missing}"
