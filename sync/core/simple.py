"""Upstream pages as the simple API gives them: PEP 691 JSON or PEP 503 HTML -> ``File``s.

Pure: bytes and headers in, the files (URLs made absolute against the page, PEP 592 yanks,
PEP 658/714 core metadata, PEP 740 provenance), the serial and the PEP 792 project status
(``project-status`` in JSON, the ``pypi:project-status`` meta tag in HTML) out. A file URL
too broken to resolve is kept as it is, so that its file fails alone (the sync's origin
check refuses it), not the whole page.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin

from blobpi.mirror.core.model import File, status_fields

__all__ = ["parse_page"]


def _charset(content_type: str) -> str:
    """The page's charset when it names a known one, else UTF-8.

    >>> _charset("text/html; charset=latin-1"), _charset("text/html; charset=evil")
    ('iso8859-1', 'utf-8')
    """
    name = content_type.partition("charset=")[2].split(";")[0].strip().strip('"')
    try:
        return codecs.lookup(name).name if name else "utf-8"
    except LookupError:
        return "utf-8"


class _Anchors(HTMLParser):
    """PEP 503 anchors with their PEP 592/658/714 data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []
        self.meta: dict[str, str] = {}  # PEP 629 / PEP 792 <meta name=... content=...>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "meta":
            found = dict(attrs)
            if found.get("name") and found.get("content") is not None:
                self.meta.setdefault(str(found["name"]), str(found["content"]))


def _join(page_url: str, url: str) -> str:
    """``url`` resolved against the page; a URL too broken to resolve stays as it is, so
    that its file fails alone (the origin check refuses it), not the whole page."""
    try:
        return urljoin(page_url, url)
    except ValueError:
        return url


def _files_from_html(text: str, page_url: str) -> tuple[list[File], dict[str, Any]]:
    parser = _Anchors()
    parser.feed(text)
    status = status_fields(
        {
            "status": parser.meta.get("pypi:project-status"),
            "reason": parser.meta.get("pypi:project-status-reason"),
        }
    )
    files = []
    for a in parser.anchors:
        url, fragment = urldefrag(_join(page_url, a["href"] or ""))
        algorithm, _, digest = fragment.partition("=")
        metadata = a.get("data-core-metadata", a.get("data-dist-info-metadata"))
        core: bool | dict[str, str] = False
        if metadata is not None:
            name, _, value = metadata.partition("=")
            core = {name: value} if value else metadata != "false"
        files.append(
            File(
                filename=url.rsplit("/", 1)[-1],
                url=url,
                hashes={algorithm: digest} if digest else {},
                requires_python=a.get("data-requires-python") or None,
                yanked=(a.get("data-yanked") or True) if "data-yanked" in a else False,
                core_metadata=core,
            )
        )
    return files, status


def parse_page(
    body: bytes, page_url: str, headers: Mapping[str, str]
) -> tuple[list[File], int | None, dict[str, Any]]:
    """The files a PEP 691 JSON or PEP 503 HTML page lists, with absolute URLs, the
    upstream's serial and the PEP 792 status fields; ``headers`` are the response's (a
    case-insensitive mapping). A quarantined project lists no files.

    >>> page = b'<a href="../../f/a-1.0.tar.gz#sha256=ab">a-1.0.tar.gz</a>'
    >>> files, _, _ = parse_page(page, "https://h/simple/a/", {"content-type": "text/html"})
    >>> files[0].url, files[0].hashes
    ('https://h/f/a-1.0.tar.gz', {'sha256': 'ab'})
    """
    content_type = headers.get("content-type", "")
    serial = headers.get("x-pypi-last-serial")
    if "json" in content_type:
        raw: dict[str, Any] = json.loads(body)
        serial = raw.get("meta", {}).get("_last-serial", serial)
        status = status_fields(raw.get("project-status"))
        files = [
            dataclasses.replace(
                f,
                url=_join(page_url, f.url),
                provenance=_join(page_url, f.provenance) if f.provenance else None,
            )
            for f in (File.from_json(item) for item in raw["files"])
        ]
    else:
        text = body.decode(_charset(content_type), "replace")
        files, status = _files_from_html(text, page_url)
    for f in files:
        if not isinstance(f.filename, str) or not f.url:
            raise ValueError(f"a file entry without filename or url: {f!r}")
    if status.get("status") == "quarantined":
        files = []  # PEP 792: nothing of it may be offered, whatever the page still lists
    return files, int(serial) if serial is not None else None, status
