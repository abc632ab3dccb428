"""Where a benchmark's results land: ``bench/results/<kind>-<time>.md`` (the table, as printed)
and ``.json`` (the figures), the time in UTC (``stamp``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "save", "save_servers", "stamp", "table"]

RESULTS = Path(__file__).resolve().parent / "results"


def stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def save(kind: str, when: str, record: dict[str, Any], text: str | None = None) -> None:
    """Write the record (and the table, when there is one) of one run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if text is not None:
        (RESULTS / f"{kind}-{when}.md").write_text(text)
    (RESULTS / f"{kind}-{when}.json").write_text(json.dumps(record, indent=1) + "\n")


def table(head: str, columns: list[str], rows: list[tuple[str, list[str]]]) -> str:
    """A results table in Markdown under its one-line ``head``: a row's label, then a cell
    per column."""
    lines = [head, "", "| row | " + " | ".join(columns) + " |", "| --- |" + " --- |" * len(columns)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows]
    return "\n".join(lines) + "\n"


def save_servers(
    kind: str,
    when: str,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    seconds: int,
    servers: dict[str, Any],
    text: str,
) -> None:
    """A server benchmark's record: the load averages around it, wrk's seconds per cell,
    and each server's figures by row."""
    save(kind, when, {"load": list(load), "seconds": seconds, "servers": servers}, text)
