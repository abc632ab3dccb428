"""``blobpi config show``: the effective settings, where each came from, secrets masked.

Built on the one edge that reads configuration (``mirror/settings.py``): the values are those
of the ``Settings`` every command gets; ``core/sources.explain_settings`` says which source
won (flag, ``BLOBPI_*`` variable, ``blobpi.toml``, default) and what each one said.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from blobpi.mirror.core.settings import Settings, Shard
from blobpi.mirror.core.sources import Origin, explain_settings
from blobpi.mirror.settings import read_toml
from blobpi.mirror.store.protocol import redact_url

__all__ = ["configure_parser", "effective_value"]

_URLS = {"storage", "sync.upstream"}  # may carry a SAS or user:password: shown redacted


def configure_parser(subparsers: Any) -> None:
    config = subparsers.add_parser("config", help="show the effective configuration")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="print every setting, its value and where it came from (secrets masked)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("--config", help="blobpi.toml (default: $BLOBPI_CONFIG, else ./blobpi.toml)")
    show.add_argument("--json", action="store_true", help="print the settings as JSON")
    show.set_defaults(handler=_show)


def _text(value: object) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, Shard):
        return f"{value.index}/{value.count}"
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(str(v) for v in value)) or "(none)"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def effective_value(settings: Settings, origin: Origin) -> str:
    """The value ``settings`` holds for ``origin.setting``, as text safe to print."""
    value: Any = settings
    for part in origin.setting.split("."):
        value = getattr(value, part)
    if origin.secret:
        return "(unset)" if value is None else "*** (set)"
    if origin.setting in _URLS and value:
        return redact_url(str(value)) if "://" in str(value) else str(value)
    if origin.setting == "server.anonymous_read" and value is None:
        return f"(auto: {_text(settings.server.allows_anonymous_read)} for this host)"
    if origin.setting == "sync.upstream" and not value:
        return "(the index pip is configured with, asked at sync or lock time)"
    return _text(value)


def _redact_given(origin: Origin) -> dict[str, str]:
    if origin.setting not in _URLS:
        return dict(origin.given)
    return {src: redact_url(raw) if "://" in raw else raw for src, raw in origin.given.items()}


def _config_file(args: argparse.Namespace, settings: Settings) -> str:
    chosen = args.config or settings.environ.get("BLOBPI_CONFIG", "").strip()
    if chosen:
        return chosen
    return "blobpi.toml" if Path("blobpi.toml").is_file() else "(none)"


def _rows(settings: Settings, origins: Iterable[Origin]) -> list[dict[str, Any]]:
    return [
        dataclasses.asdict(o) | {"value": effective_value(settings, o), "given": _redact_given(o)}
        for o in origins
    ]


def _name(row: dict[str, Any]) -> str:
    """A setting as the user writes it: its blobpi.toml key and its variable (the file
    spells keys with dashes), or the one it has."""
    spelled = [n for n in (row["file_key"], row["variable"]) if n]
    return " / ".join(spelled) or str(row["setting"])


def _show(args: argparse.Namespace, settings: Settings) -> int:
    file = read_toml(args.config, settings.environ)
    rows = _rows(settings, explain_settings(settings.environ, file))
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    print(
        f"# blobpi.toml: {_config_file(args, settings)}; a flag wins over a variable, a "
        "variable over the file, the file over the default"
    )
    names = {r["setting"]: _name(r) for r in rows}
    width = max(map(len, names.values()))
    values = min(40, max(len(r["value"]) for r in rows))
    for row in rows:
        where = {"environment": row["variable"], "blobpi.toml": f"blobpi.toml {row['file_key']}"}
        source = where.get(row["source"], row["source"])
        lost = [
            f"{where.get(src, src)}={raw!r}"
            for src, raw in row["given"].items()
            if src != row["source"]
        ]
        overrides = f", overrides {', '.join(lost)}" if lost else ""
        name = names[row["setting"]]
        print(f"{name:<{width}}  {row['value']:<{values}}  from {source}{overrides}")
    return 0
