"""Content negotiation (mirror/core/negotiate.py): PEP 691 Accept and ?format= choices."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.negotiate import Format, select_format

JSON, HTML, LEGACY = Format.JSON, Format.HTML, Format.LEGACY_HTML
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


@pytest.mark.parametrize(
    ("accept", "fmt", "expected"),
    [
        (None, None, LEGACY),
        ("", None, LEGACY),
        (PIP_ACCEPT, None, JSON),
        ("text/html", None, LEGACY),
        ("application/vnd.pypi.simple.v1+html", None, HTML),
        ("application/vnd.pypi.simple.latest+json", None, JSON),
        ("application/vnd.pypi.simple.latest+html", None, HTML),
        ("*/*", None, LEGACY),
        ("text/*", None, LEGACY),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None, LEGACY),
        ("application/vnd.pypi.simple.v1+json;q=0.2, text/html;q=0.9", None, LEGACY),
        ("application/vnd.pypi.simple.v1+json, */*;q=0.1", None, JSON),
        # ?format= wins over Accept (PEP 691)
        ("text/html", "application/vnd.pypi.simple.v1+json", JSON),
        (None, "application/vnd.pypi.simple.v1+html", HTML),
    ],
)
def test_select_format__chooses(accept: str | None, fmt: str | None, expected: Format) -> None:
    assert select_format(accept, fmt) is expected


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("application/json", None),
        ("application/vnd.pypi.simple.v2+json", None),
        ("image/png, application/xml", None),
        ("text/html;q=0", None),
        ("application/vnd.pypi.simple.v1+json;q=abc", None),
        (None, "application/vnd.pypi.simple.v9+json"),
    ],
)
def test_select_format__nothing_fits(accept: str | None, fmt: str | None) -> None:
    assert select_format(accept, fmt) is None
