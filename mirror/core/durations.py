"""The one duration syntax of every ``blobpi`` flag that takes one (``token create
--expires``, ``azureml ... --expires``): a whole number and a unit, ``s m h d w``."""

from __future__ import annotations

import datetime as dt
import re

from blobpi.mirror.core.errors import ConfigError

__all__ = ["parse_duration"]

_RE = re.compile(r"(\d+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(raw: str, flag: str = "--expires") -> dt.timedelta:
    """``30m``, ``12h``, ``90d``, ``2w``.

    >>> parse_duration("36h"), parse_duration("2w").days
    (datetime.timedelta(days=1, seconds=43200), 14)
    """
    match = _RE.fullmatch(raw.strip())
    if not match or int(match[1]) == 0:
        raise ConfigError(f"{flag} {raw!r} is not a duration: use e.g. 30m, 12h, 90d or 2w")
    return dt.timedelta(seconds=int(match[1]) * _SECONDS[match[2]])
