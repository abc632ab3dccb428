"""PEP 691 content negotiation: pick the serialisation of a simple-API page.

The client states what it takes in ``Accept`` (with q-values) or in the ``?format=`` query
parameter, which wins when present. With neither, the answer is ``text/html``, which every
installer understands. ``None`` means nothing acceptable: the server answers 406.
"""

from __future__ import annotations

import enum

__all__ = ["Format", "select_format"]


class Format(enum.Enum):
    JSON = "application/vnd.pypi.simple.v1+json"
    HTML = "application/vnd.pypi.simple.v1+html"
    LEGACY_HTML = "text/html"

    @property
    def is_json(self) -> bool:
        return self is Format.JSON


# On equal q-values the richer format wins, as PEP 691 lets the server choose.
_PREFERENCE = (Format.JSON, Format.HTML, Format.LEGACY_HTML)
_LATEST = {
    "application/vnd.pypi.simple.latest+json": Format.JSON,
    "application/vnd.pypi.simple.latest+html": Format.HTML,
}


def _parse_accept(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0  # a malformed q-value accepts nothing, as RFC 9110 implies
        ranges.append((media.lower(), quality))
    return ranges


def _quality(fmt: Format, ranges: list[tuple[str, float]]) -> float:
    """The q-value of the most specific range that matches ``fmt`` (RFC 9110 12.5.1)."""
    best: tuple[int, float] | None = None
    kind = fmt.value.split("/")[0]
    for media, quality in ranges:
        media = _LATEST[media].value if media in _LATEST else media
        if media == fmt.value:
            specificity = 3
        elif media == f"{kind}/*":
            specificity = 2
        elif media == "*/*":
            specificity = 1
        else:
            continue
        if best is None or specificity > best[0]:
            best = (specificity, quality)
    return best[1] if best else 0.0


def select_format(accept: str | None, format_param: str | None = None) -> Format | None:
    """Choose the page format, or None when nothing the client accepts is served.

    >>> select_format(None)
    <Format.LEGACY_HTML: 'text/html'>
    >>> select_format("application/vnd.pypi.simple.v1+json, text/html;q=0.1")
    <Format.JSON: 'application/vnd.pypi.simple.v1+json'>
    >>> select_format("application/json") is None
    True
    """
    wanted = format_param if format_param is not None else accept
    if wanted is None or not wanted.strip():
        return Format.LEGACY_HTML
    ranges = _parse_accept(wanted)
    scored = [(_quality(fmt, ranges), -rank, fmt) for rank, fmt in enumerate(_PREFERENCE)]
    quality, _, fmt = max(scored, key=lambda s: (s[0], s[1]))
    if quality <= 0:
        return None
    if all(media == "*/*" or media.endswith("/*") for media, _ in ranges):
        return Format.LEGACY_HTML  # a wildcard client (a browser, curl) gets plain HTML
    return fmt
