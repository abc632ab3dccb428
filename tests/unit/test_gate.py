"""``blobpi.sync.core.gate``: verdicts (malware, blocked, waived, expired waiver, allowed),
the waiver lines, and what the sync's plan is told to hold back."""

from __future__ import annotations

import datetime as dt

import pytest

from blobpi.mirror.core.errors import ConfigError
from blobpi.sync.core.advisories import parse_archive
from blobpi.sync.core.gate import Gate, parse_waivers
from tests.support.osv import archive_bytes, ghsa_record, mal_record, pysec_record

TODAY = dt.date(2026, 3, 1)
DATABASE = parse_archive(
    archive_bytes(
        [
            mal_record("MAL-2025-1", "evil", ["1.0"]),
            ghsa_record("GHSA-high-high-high", "demo", "1.0", "1.4", "HIGH", ["CVE-2025-1"]),
            ghsa_record("GHSA-lowl-lowl-lowl", "demo", "1.0", "1.2", "LOW"),
            pysec_record("PYSEC-2025-7", "demo", "1.0", "1.1"),  # severity unknown
        ]
    )
)


def _verdicts(gate: Gate, name: str, version: str) -> dict[str, str]:
    return {f.advisory.id: f.verdict for f in gate.judge(name, version)}


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("high", {"GHSA-high-high-high": "blocked", "GHSA-lowl-lowl-lowl": "allowed"}),
        ("low", {"GHSA-high-high-high": "blocked", "GHSA-lowl-lowl-lowl": "blocked"}),
        ("critical", {"GHSA-high-high-high": "allowed", "GHSA-lowl-lowl-lowl": "allowed"}),
        ("none", {"GHSA-high-high-high": "allowed", "GHSA-lowl-lowl-lowl": "allowed"}),
    ],
)
def test_judge__block_severity(level: str, expected: dict[str, str]) -> None:
    found = _verdicts(Gate(DATABASE, level, today=TODAY), "demo", "1.1")
    assert found == expected  # 1.1 is past PYSEC-2025-7's fix


def test_judge__unknown_severity_blocks_only_under_any() -> None:
    assert _verdicts(Gate(DATABASE, "high", today=TODAY), "demo", "1.0")["PYSEC-2025-7"] == (
        "allowed"
    )
    assert _verdicts(Gate(DATABASE, "any", today=TODAY), "demo", "1.0")["PYSEC-2025-7"] == (
        "blocked"
    )


def test_judge__malware_blocks_at_every_level() -> None:
    assert _verdicts(Gate(DATABASE, "none", today=TODAY), "evil", "1.0") == {
        "MAL-2025-1": "malware"
    }


@pytest.mark.parametrize(
    ("until", "verdict"),
    [("2026-03-01", "waived"), ("2026-12-31", "waived"), ("2026-02-28", "expired")],
)
def test_judge__waiver_until_its_last_day(until: str, verdict: str) -> None:
    # waived by its alias, as a reviewer may know it
    waivers = parse_waivers(f"# blobpi: waive CVE-2025-1 until {until}: not reachable from us")
    gate = Gate(DATABASE, "high", tuple(waivers), TODAY)
    finding = next(f for f in gate.judge("demo", "1.3") if f.advisory.id == "GHSA-high-high-high")
    assert finding.verdict == verdict and finding.blocks == (verdict == "expired")
    assert "not reachable from us" in finding.describe() or verdict == "expired"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("# blobpi: waive GHSA-x until soon: why", "is not a waiver"),
        ("# blobpi: waive GHSA-x until 2026-02-30: why", "is not a waiver"),
        ("# blobpi: waive GHSA-x until 2026-02-01", "is not a waiver"),  # no reason
        ("# blobpi: waive MAL-2025-1 until 2026-02-01: trust me", "malware, which cannot"),
    ],
)
def test_parse_waivers__refused(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"allowlist.in:2: .*{message}"):
        parse_waivers(f"six==1.0\n{line}", "allowlist.in")


def test_held__blocked_and_takedown_with_the_fix() -> None:
    gate = Gate(DATABASE, "high", today=TODAY)
    blocked, takedown = gate.held("demo", ["1.0", "1.4"])
    assert set(blocked) == {"1.0"} and takedown == {}
    assert "GHSA-high-high-high (high, fixed in 1.4)" in blocked["1.0"]
    assert "raise it to 1.4 or later" in blocked["1.0"]
    assert gate.held("evil", ["1.0", "2.0"]) == (
        {},
        {"1.0": gate.judge("evil", "1.0")[0].describe()},
    )


def test_fingerprint__changes_with_waivers_and_expiry() -> None:
    waivers = tuple(parse_waivers("# blobpi: waive GHSA-high-high-high until 2026-03-01: ok"))
    base = Gate(DATABASE, "high", waivers, TODAY).fingerprint("demo")
    assert Gate(DATABASE, "high", waivers, TODAY).fingerprint("demo") == base
    assert Gate(DATABASE, "high", (), TODAY).fingerprint("demo") != base
    assert Gate(DATABASE, "high", waivers, dt.date(2026, 3, 2)).fingerprint("demo") != base
    assert Gate(DATABASE, "low", waivers, TODAY).fingerprint("demo") != base
