"""HTTP helpers (mirror/core/http.py): Range (RFC 9110), Accept-Encoding, ETag matching."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.http import Unsatisfiable, accepts_gzip, etag_matches, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=10-19", (10, 19)),
        ("bytes=90-", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=5-1", None),  # invalid: ignored, whole file
        ("bytes=0-1,5-6", None),  # multiple ranges: whole file
        ("items=0-1", None),
        ("bytes=abc", None),
        # not ASCII digits: str.isdigit() accepts these, int() does not (a 500 before)
        ("bytes=0-\u00b2", None),
        ("bytes=\u00b9-", None),
        ("bytes=-\u0663", None),  # ARABIC-INDIC THREE: int() accepts it, RFC 9110 does not
        ("bytes=\uff10-\uff11", None),  # fullwidth digits
        ("bytes=" + "9" * 40 + "-", None),  # absurdly long: ignored, not parsed
        ("bytes= 10 - 19 ", (10, 19)),
    ],
)
def test_parse_range__valid_or_ignored(
    header: str | None, expected: tuple[int, int] | None
) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=-0"])
def test_parse_range__unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)


@pytest.mark.parametrize(
    ("header", "etag", "expected"),
    [
        (None, '"a"', False),
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),
        ('"b", "a"', '"a"', True),
        ('"b"', '"a"', False),
        ("*", '"a"', True),
    ],
)
def test_etag_matches(header: str | None, etag: str, expected: bool) -> None:
    assert etag_matches(header, etag) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("br", False),
        ("GZIP", True),
    ],
)
def test_accepts_gzip(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected
