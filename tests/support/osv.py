"""OSV records in the real export format, and the ``all.zip`` archive they go in, built by
the tests (no internet): a ``MAL-`` record as OpenSSF's malicious-packages writes them, a
GitHub ``GHSA-`` record with a CVSS vector and ``database_specific.severity``, and a
``PYSEC-`` record with ranges and an explicit ``versions`` list, as the PyPA database has."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Record = dict[str, Any]
_TIME = "2025-01-02T03:04:05Z"


def _package(name: str) -> dict[str, str]:
    return {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name.lower()}"}


def mal_record(ident: str, name: str, versions: Sequence[str]) -> Record:
    return {
        "schema_version": "1.5.0",
        "id": ident,
        "modified": _TIME,
        "published": _TIME,
        "summary": f"Malicious code in {name} (PyPI)",
        "details": "\n---\n_-= Per source details. Do not edit below this line.=-_\n",
        "affected": [
            {
                "package": _package(name),
                "versions": list(versions),
                "database_specific": {"source": "https://example.org/ossf/malicious-packages"},
            }
        ],
        "database_specific": {"malicious-packages-origins": [{"source": "ossf-package-analysis"}]},
    }


def ghsa_record(
    ident: str,
    name: str,
    introduced: str,
    fixed: str | None,
    severity: str = "HIGH",
    aliases: Sequence[str] = (),
    cvss: str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
) -> Record:
    events: list[dict[str, str]] = [{"introduced": introduced}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "schema_version": "1.4.0",
        "id": ident,
        "modified": _TIME,
        "published": _TIME,
        "aliases": list(aliases),
        "summary": f"{name} leaks headers on redirect",
        "details": "An attacker can read credentials when a redirect crosses origins.",
        "severity": [{"type": "CVSS_V3", "score": cvss}],
        "affected": [
            {
                "package": _package(name),
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "database_specific": {"source": "https://example.org/github/advisories"},
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://example.org/advisories/{ident}"}],
        "database_specific": {
            "cwe_ids": ["CWE-200"],
            "severity": severity,
            "github_reviewed": True,
            "github_reviewed_at": _TIME,
            "nvd_published_at": None,
        },
    }


def pysec_record(
    ident: str, name: str, introduced: str, fixed: str, versions: Sequence[str] = ()
) -> Record:
    return {
        "id": ident,
        "modified": _TIME,
        "published": _TIME,
        "aliases": [f"CVE-2025-{ident.rsplit('-', 1)[-1]}"],
        "details": f"{name} before {fixed} allows a denial of service via crafted input.",
        "affected": [
            {
                "package": _package(name),
                "ranges": [
                    {"type": "GIT", "repo": "https://example.org/x.git", "events": [
                        {"introduced": "0"}, {"fixed": "a" * 40}]},
                    {"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]},
                ],
                "versions": list(versions),
            }
        ],
        "references": [{"type": "FIX", "url": "https://example.org/x/commit/1"}],
    }  # fmt: skip


def archive_bytes(records: Iterable[Mapping[str, Any]]) -> bytes:
    """The OSV export's layout: one ``<id>.json`` per record at the top of the zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for record in records:
            archive.writestr(f"{record['id']}.json", json.dumps(record, indent=2))
    return buffer.getvalue()


def write_archive(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path.write_bytes(archive_bytes(records))
    return path
