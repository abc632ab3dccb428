"""Render the model to the simple API's two serialisations. Pure: bytes in memory, no I/O.

- PEP 691 JSON (``application/vnd.pypi.simple.v1+json``), api-version 1.4, with PEP 700
  sizes and times, PEP 592 ``yanked``, PEP 658/714 ``core-metadata`` (and the older
  ``dist-info-metadata`` alias that pip < 23.3 reads), PEP 740 ``provenance`` and PEP 792
  ``project-status`` (``status``, ``reason``).
- PEP 503 HTML with the PEP 629 ``pypi:repository-version`` meta tag, PEP 792's
  ``pypi:project-status`` and ``pypi:project-status-reason`` meta tags, and the PEP 503/592/
  658/714/740 ``data-*`` attributes. Every value is HTML-escaped: metadata is user input.

A page's HTML is always made from its JSON record (``*_html_from_json``), by writers and by
the server alike, so the two formats cannot disagree ("Pages are one record", DESIGN.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from blobpi.mirror.core.model import API_VERSION, File, ProjectList, ProjectPage, format_upload_time

__all__ = [
    "index_html_from_json",
    "project_html_from_json",
    "render_index_html",
    "render_index_json",
    "render_project_html",
    "render_project_json",
]


def _dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _hashes_attr(hashes: Mapping[str, str]) -> str:
    name = "sha256" if "sha256" in hashes else sorted(hashes)[0]
    return f"{name}={hashes[name]}"


def _file_json(file: File) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": file.filename,
        "url": file.url,
        "hashes": dict(file.hashes),
        "requires-python": file.requires_python,
        "yanked": file.yanked,
        "size": file.size,
        "upload-time": format_upload_time(file.upload_time) if file.upload_time else None,
    }
    if file.core_metadata:
        metadata = dict(file.core_metadata) if isinstance(file.core_metadata, Mapping) else True
        entry["core-metadata"] = metadata
        entry["dist-info-metadata"] = metadata
    if file.provenance is not None:
        entry["provenance"] = file.provenance
    return entry


def render_project_json(page: ProjectPage) -> bytes:
    """PEP 691 project detail.

    >>> render_project_json(ProjectPage(name="a"))
    b'{"meta":{"api-version":"1.4"},"name":"a","files":[],"versions":[]}'
    """
    meta: dict[str, Any] = {"api-version": API_VERSION}
    if page.origin is not None:
        meta["_origin"] = page.origin
    if page.last_serial is not None:
        meta["_last-serial"] = page.last_serial
    document: dict[str, Any] = {
        "meta": meta,
        "name": page.name,
        "files": [_file_json(f) for f in page.files],
        "versions": list(page.versions),
    }
    if page.status is not None:  # PEP 792: absent means active
        status: dict[str, str] = {"status": page.status}
        if page.status_reason is not None:
            status["reason"] = page.status_reason
        document["project-status"] = status
    return _dumps(document)


def render_index_json(projects: ProjectList) -> bytes:
    """PEP 691 project list.

    >>> render_index_json(ProjectList.of(["b", "a"]))
    b'{"meta":{"api-version":"1.4"},"projects":[{"name":"a"},{"name":"b"}]}'
    """
    return _dumps(
        {"meta": {"api-version": API_VERSION}, "projects": [{"name": n} for n in projects.projects]}
    )


def _html(title: str, body: list[str], meta: Mapping[str, str] | None = None) -> bytes:
    tags = {"pypi:repository-version": API_VERSION, **(meta or {})}
    head = (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        + "".join(f'    <meta name="{n}" content="{escape(v)}">\n' for n, v in tags.items())
        + f"    <title>{escape(title)}</title>\n  </head>\n  <body>\n"
    )
    return (head + "".join(f"    {line}\n" for line in body) + "  </body>\n</html>\n").encode()


def _anchor(file: File) -> str:
    href = file.url
    if file.hashes:
        href += "#" + _hashes_attr(file.hashes)
    attrs = [f'href="{escape(href)}"']
    if file.requires_python:
        attrs.append(f'data-requires-python="{escape(file.requires_python)}"')
    if file.yanked is not False:
        reason = "" if file.yanked is True else str(file.yanked)
        attrs.append(f'data-yanked="{escape(reason)}"')
    if file.core_metadata:
        value = (
            _hashes_attr(file.core_metadata)
            if isinstance(file.core_metadata, Mapping) and file.core_metadata
            else "true"
        )
        attrs.append(f'data-core-metadata="{escape(value)}"')
        attrs.append(f'data-dist-info-metadata="{escape(value)}"')
    if file.provenance is not None:
        attrs.append(f'data-provenance="{escape(file.provenance)}"')
    return f"<a {' '.join(attrs)}>{escape(file.filename)}</a><br />"


def render_project_html(page: ProjectPage) -> bytes:
    """PEP 503 project page, with PEP 792's status meta tags when it has a status."""
    meta: dict[str, str] = {}
    if page.status is not None:
        meta["pypi:project-status"] = page.status
        if page.status_reason is not None:
            meta["pypi:project-status-reason"] = page.status_reason
    return _html(
        f"Links for {page.name}",
        [f"<h1>Links for {escape(page.name)}</h1>", *(_anchor(f) for f in page.files)],
        meta,
    )


def render_index_html(projects: ProjectList) -> bytes:
    """PEP 503 root page: one anchor per project, linking to its normalized URL."""
    return _html(
        "Simple index",
        [f'<a href="{escape(n)}/">{escape(n)}</a><br />' for n in projects.projects],
    )


def project_html_from_json(record: bytes) -> bytes:
    """The PEP 503 page of a stored PEP 691 project page: the one way HTML is made from a record.

    >>> b"Links for a" in project_html_from_json(render_project_json(ProjectPage(name="a")))
    True
    """
    return render_project_html(ProjectPage.from_json(json.loads(record)))


def index_html_from_json(record: bytes) -> bytes:
    """The PEP 503 root page of a stored PEP 691 project list."""
    return render_index_html(ProjectList.from_json(json.loads(record)))
