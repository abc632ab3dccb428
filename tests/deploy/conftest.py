"""Paths of the deploy checks' tools, installed by ``make tools`` outside the project venv, and
the templates as pycep-parser reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import ROOT, run

# Run by the lint venv's Python, which has the parsers this venv lacks: not for import here.
collect_ignore = ["bicep_parse.py"]

LINT_BIN = ROOT / ".tools/lint-venv/bin"
NODE_MODULES = ROOT / ".tools/node_modules"
BICEP = ROOT / "bicep"


def tool(name: str) -> Path:
    """A linter from ``make tools``; a missing one fails with the fix (never a silent skip)."""
    path = LINT_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run 'make tools'")
    return path


@pytest.fixture(scope="session")
def parsed() -> dict[str, dict[str, Any]]:
    """Each ``.bicep`` file: pycep's template JSON and both parsers' errors."""
    out = run([str(tool("python")), str(Path(__file__).with_name("bicep_parse.py")), str(BICEP)])
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


@pytest.fixture(scope="session")
def templates(parsed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """pycep's template JSON of each file that parsed, by path under bicep/."""
    return {name: entry["pycep"] for name, entry in parsed.items() if entry["pycep"]}
