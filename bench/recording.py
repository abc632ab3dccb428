"""Where a benchmark's results land: ``bench/results/<kind>-<time>.md`` (the table, as printed)
and ``.json`` (the figures), the time in UTC (``stamp``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "save", "stamp"]

RESULTS = Path(__file__).resolve().parent / "results"


def stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def save(kind: str, when: str, record: dict[str, Any], text: str | None = None) -> None:
    """Write the record (and the table, when there is one) of one run."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    if text is not None:
        (RESULTS / f"{kind}-{when}.md").write_text(text)
    (RESULTS / f"{kind}-{when}.json").write_text(json.dumps(record, indent=1) + "\n")
