"""Parse every ``.bicep`` file with pycep-parser and tree-sitter-bicep; print JSON.

Run by the lint venv's Python (``make tools``), which has both parsers, so the project venv
does not need them: ``{"path": {"pycep": <template JSON> | null, "pycep_error": str | null,
"tree_sitter_errors": ["line:col text", ...]}}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import tree_sitter  # type: ignore[import-not-found, unused-ignore]
import tree_sitter_bicep  # type: ignore[import-not-found, unused-ignore]
from pycep import BicepParser  # type: ignore[import-not-found, unused-ignore]


def _errors(node: Any) -> list[str]:
    if node.type == "ERROR" or node.is_missing:
        row, column = node.start_point
        return [f"{row + 1}:{column + 1} {node.text[:60].decode(errors='replace')!r}"]
    return [error for child in node.children for error in _errors(child)]


def main(root: Path) -> dict[str, dict[str, Any]]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))
    report: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*.bicep")):
        entry: dict[str, Any] = {"pycep": None, "pycep_error": None}
        try:
            entry["pycep"] = BicepParser().parse(file_path=path)
        except Exception as e:  # any parser failure is the finding
            entry["pycep_error"] = f"{type(e).__name__}: {e}"
        entry["tree_sitter_errors"] = _errors(parser.parse(path.read_bytes()).root_node)
        report[path.relative_to(root).as_posix()] = entry
    return report


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1])), sys.stdout, default=str)
