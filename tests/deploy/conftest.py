"""Paths of the deploy checks' tools, installed by ``make tools`` outside the project venv."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import ROOT

# Run by the lint venv's Python, which has the parsers this venv lacks: not for import here.
collect_ignore = ["bicep_parse.py"]

LINT_BIN = ROOT / ".tools/lint-venv/bin"
NODE_MODULES = ROOT / ".tools/node_modules"


def tool(name: str) -> Path:
    """A linter from ``make tools``; a missing one fails with the fix (never a silent skip)."""
    path = LINT_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run 'make tools'")
    return path
