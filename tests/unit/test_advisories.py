"""``blobpi.sync.core.advisories``: OSV records read from the export archive, releases
matched by ranges and version lists, severities from the record or its CVSS vector."""

from __future__ import annotations

import io
import zipfile

import pytest

from blobpi.mirror.core.errors import ConfigError
from blobpi.sync.core.advisories import cvss3_score, parse_archive, parse_record
from tests.support.osv import archive_bytes, ghsa_record, mal_record, pysec_record

RECORDS = [
    mal_record("MAL-2025-1", "Evil_Pkg", ["1.0", "1.1"]),
    ghsa_record("GHSA-aaaa-bbbb-cccc", "demo", "1.0", "1.4", "HIGH", ["CVE-2025-1"]),
    pysec_record("PYSEC-2025-7", "demo", "2.0", "2.0.3", versions=["2.0", "2.0.1", "2.0.2"]),
]


@pytest.mark.parametrize(
    ("name", "version", "ids"),
    [
        ("demo", "0.9", []),
        ("demo", "1.0", ["GHSA-aaaa-bbbb-cccc"]),  # introduced is inclusive
        ("demo", "1.3.9", ["GHSA-aaaa-bbbb-cccc"]),
        ("demo", "1.4", []),  # fixed is exclusive
        ("demo", "1.4rc1", ["GHSA-aaaa-bbbb-cccc"]),  # PEP 440: a pre-release sorts before
        ("demo", "2.0.2", ["PYSEC-2025-7"]),
        ("demo", "2.0.3", []),
        ("evil-pkg", "1.1", ["MAL-2025-1"]),  # PEP 503 names: Evil_Pkg == evil-pkg
        ("evil-pkg", "1.2", []),  # only the listed versions
        ("other", "1.0", []),
    ],
)
def test_affecting__ranges_and_versions(name: str, version: str, ids: list[str]) -> None:
    database = parse_archive(archive_bytes(RECORDS))
    assert [a.id for a in database.affecting(name, version)] == ids


def test_parse_record__last_affected_and_limit_events() -> None:
    record = ghsa_record("GHSA-x", "demo", "1.0", None)
    record["affected"][0]["ranges"][0]["events"].append({"last_affected": "1.2"})
    advisory = parse_record(record)
    assert advisory is not None
    assert [advisory.affects("demo", v) for v in ("0.9", "1.2", "1.2.1")] == [False, True, False]


def test_parse_record__withdrawn_and_other_ecosystems_affect_nothing() -> None:
    withdrawn = {**ghsa_record("GHSA-w", "demo", "0", "9"), "withdrawn": "2025-02-01T00:00:00Z"}
    npm = ghsa_record("GHSA-n", "demo", "0", "9")
    npm["affected"][0]["package"]["ecosystem"] = "npm"
    assert parse_record(withdrawn) is None and parse_record(npm) is None


@pytest.mark.parametrize(
    ("changes", "severity"),
    [
        ({}, "high"),  # GitHub's database_specific.severity
        ({"database_specific": {}}, "moderate"),  # else the CVSS v3 vector: C:H alone is 7.5
        ({"database_specific": {}, "severity": []}, None),
        ({"database_specific": {"severity": "MODERATE"}}, "moderate"),
    ],
)
def test_severity(changes: dict[str, object], severity: str | None) -> None:
    record = {
        **ghsa_record(
            "GHSA-s", "demo", "0", "1", cvss="CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N"
        ),
        **changes,
    }
    advisory = parse_record(record)
    assert advisory is not None and advisory.severity == severity


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5),
        ("CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.3),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 8.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
        ("CVSS:3.1/AV:X", None),
    ],
)
def test_cvss3_score(vector: str, score: float | None) -> None:
    assert cvss3_score(vector) == score


def test_fixed_in__sorted_by_pep440() -> None:
    record = ghsa_record("GHSA-f", "demo", "0", "1.10")
    record["affected"].append(ghsa_record("GHSA-f", "demo", "2.0", "2.2")["affected"][0])
    record["affected"][0]["ranges"][0]["events"].append({"fixed": "1.9"})
    advisory = parse_record(record)
    assert advisory is not None and advisory.fixed_in("Demo") == ("1.9", "1.10", "2.2")


def test_parse_archive__not_a_zip() -> None:
    with pytest.raises(ConfigError, match="'all.zip' is not a zip archive"):
        parse_archive(b"<html>a proxy's error page</html>", "'all.zip'")


def test_parse_archive__an_empty_export_is_an_empty_database() -> None:
    assert len(parse_archive(archive_bytes([]))) == 0


def test_parse_archive__a_broken_record_names_its_member() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("PYSEC-1.json", "{not json")
    with pytest.raises(ConfigError, match="'PYSEC-1.json' is not an OSV JSON record"):
        parse_archive(buffer.getvalue(), "all.zip")
