"""Pure HTTP helpers for the server: byte ranges (RFC 9110 14), ETags (13.1.2), encodings."""

from __future__ import annotations

import re

__all__ = ["Unsatisfiable", "accepts_gzip", "content_length", "etag_matches", "parse_range"]

# RFC 9110 DIGIT is ASCII only: ``str.isdigit`` also accepts '²' and other digits ``int`` refuses.
_DIGITS = re.compile(r"[0-9]{1,18}")  # 18 digits: any real size, never a huge int to parse


class Unsatisfiable(ValueError):
    """The range starts past the end: answer 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as (start, end inclusive); None to send the whole file.

    Multiple ranges and malformed headers are ignored (RFC 9110 allows sending all of it).

    >>> parse_range("bytes=0-99", 1000)
    (0, 99)
    >>> parse_range("bytes=-100", 1000)
    (900, 999)
    >>> parse_range("bytes=900-", 1000)
    (900, 999)
    >>> parse_range("bytes=0-\u00b2", 1000) is None  # a superscript two is no digit
    True
    """
    if header is None:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not _DIGITS.fullmatch(first or last) or (last and not _DIGITS.fullmatch(last)):
        return None
    if not first:  # a suffix range: the last N bytes
        if int(last) == 0:
            raise Unsatisfiable(header)
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size:
        raise Unsatisfiable(header)
    if end < start:
        return None
    return start, min(end, size - 1)


def content_length(header: str | None) -> int | None:
    """A ``Content-Length`` (RFC 9110 8.6) as a number, or None if absent or not 1*DIGIT.

    ``str.isdigit`` accepts '²' and ``int`` refuses thousands of digits: both were 500s.

    >>> content_length("123"), content_length("1\u00b2"), content_length("9" * 5000)
    (123, None, None)
    """
    if header is None or not _DIGITS.fullmatch(header.strip()):
        return None
    return int(header.strip())


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison for ``If-None-Match`` (RFC 9110 13.1.2).

    >>> etag_matches('W/"abc", "def"', '"abc"')
    True
    """
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag.removeprefix("W/") in wanted


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` admits gzip.

    >>> accepts_gzip("br;q=1.0, gzip;q=0.5")
    True
    >>> accepts_gzip("gzip;q=0")
    False
    """
    for part in (accept_encoding or "").split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        if coding.lower() in ("gzip", "x-gzip"):
            for param in params:
                key, _, value = param.partition("=")
                if key.strip().lower() == "q":
                    try:
                        return float(value) > 0
                    except ValueError:
                        return False
            return True
    return False
