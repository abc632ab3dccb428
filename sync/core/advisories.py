"""OSV advisories for the PyPI ecosystem: the export archive read, and pins matched. Pure.

The database is OSV's export format (https://ossf.github.io/osv-schema/): ``all.zip``, one
JSON record per file, as osv-scanner's offline mode reads it. A record ``affects`` a pin
when one of its ``affected`` entries names the project (``package.ecosystem`` ``PyPI``,
``package.name`` compared as PEP 503 names) and either lists the version in ``versions`` or
has an ``ECOSYSTEM`` range whose ``introduced`` / ``fixed`` / ``last_affected`` / ``limit``
events contain it (PEP 440 order, the schema's evaluation rules). Withdrawn records affect
nothing. ``MAL-`` records (OpenSSF malicious packages) are malware.

Severity is the record's own word where it has one (``database_specific.severity``, as
GitHub's advisories write it, or ``ecosystem_specific.severity``), else the qualitative
rating of a CVSS v3 base score computed from its ``severity`` vector, else unknown.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.errors import ConfigError

__all__ = [
    "SEVERITIES",
    "Advisory",
    "Database",
    "cvss3_score",
    "parse_archive",
    "parse_record",
    "severity_of",
]

SEVERITIES = ("low", "moderate", "high", "critical")  # GitHub's words, in order
_ALIASES = {"medium": "moderate", "important": "high"}
_MAX_RECORDS = 1_000_000  # a bound on a hostile archive, far above the PyPI export (~20k)


@dataclasses.dataclass(frozen=True, slots=True)
class _Range:
    events: tuple[tuple[str, str], ...]  # (kind, version), kind introduced|fixed|...

    def contains(self, version: Version) -> bool:
        """The OSV schema's evaluation: walk the events in version order."""
        affected = False
        for kind, raw in sorted(self.events, key=lambda e: _order(e[1])):
            bound = _order(raw)
            if kind == "introduced" and version >= bound:
                affected = True
            elif kind in ("fixed", "limit") and version >= bound:
                affected = False
            elif kind == "last_affected" and version > bound:
                affected = False
        return affected


def _order(raw: str) -> Version:
    return Version("0") if raw == "0" else Version(raw)


@dataclasses.dataclass(frozen=True, slots=True)
class _Affected:
    name: NormalizedName
    versions: frozenset[Version]
    ranges: tuple[_Range, ...]
    fixed: tuple[str, ...]  # the ``fixed`` events, for messages
    severity: str | None  # ecosystem_specific.severity, when the record has one

    def contains(self, version: Version) -> bool:
        return version in self.versions or any(r.contains(version) for r in self.ranges)


@dataclasses.dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    summary: str
    aliases: tuple[str, ...]
    severity: str | None  # one of SEVERITIES, or None when the record does not say
    affected: tuple[_Affected, ...]
    raw: Mapping[str, Any] = dataclasses.field(repr=False, compare=False)  # as published

    @property
    def malware(self) -> bool:
        return self.id.startswith("MAL-")

    def names(self) -> frozenset[str]:
        """The id and its aliases: what a waiver may name."""
        return frozenset((self.id, *self.aliases))

    def affects(self, name: str, version: str) -> bool:
        try:
            parsed = Version(version)
        except InvalidVersion:
            return False
        wanted = canonicalize_name(name)
        return any(a.name == wanted and a.contains(parsed) for a in self.affected)

    def fixed_in(self, name: str) -> tuple[str, ...]:
        """The versions that fix it for a project, in PEP 440 order."""
        wanted = canonicalize_name(name)
        found = {f for a in self.affected if a.name == wanted for f in a.fixed}
        return tuple(sorted(found, key=Version))


def cvss3_score(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector, or None for any other text.

    >>> cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    9.8
    >>> cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N")  # a typical XSS
    6.1
    """
    parts = dict(p.split(":", 1) for p in vector.split("/") if ":" in p)
    if not parts.get("CVSS", "").startswith("3"):
        return None
    try:
        changed = parts["S"] == "C"
        av = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}[parts["AV"]]
        ac = {"L": 0.77, "H": 0.44}[parts["AC"]]
        pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[parts["PR"]]
        ui = {"N": 0.85, "R": 0.62}[parts["UI"]]
        c, i, a = ({"H": 0.56, "L": 0.22, "N": 0.0}[parts[k]] for k in ("C", "I", "A"))
    except KeyError:
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * av * ac * pr * ui
    base = (impact + exploitability) * (1.08 if changed else 1)
    return _roundup(min(base, 10.0))


def _roundup(value: float) -> float:
    """CVSS v3.1's Roundup: the smallest one-decimal number >= value, free of float error."""
    scaled = round(value * 100_000)
    return scaled / 100_000.0 if scaled % 10_000 == 0 else (math.floor(scaled / 10_000) + 1) / 10.0


def _rating(score: float) -> str | None:
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "moderate"
    return "low" if score > 0 else None


def severity_of(word: object) -> str | None:
    """A severity word normalised to SEVERITIES, or None.

    >>> severity_of("MEDIUM"), severity_of("High"), severity_of("n/a")
    ('moderate', 'high', None)
    """
    if not isinstance(word, str):
        return None
    lowered = _ALIASES.get(word.strip().lower(), word.strip().lower())
    return lowered if lowered in SEVERITIES else None


def _record_severity(raw: Mapping[str, Any], affected: Sequence[_Affected]) -> str | None:
    specific = raw.get("database_specific")
    if isinstance(specific, Mapping) and (found := severity_of(specific.get("severity"))):
        return found
    for entry in affected:
        if entry.severity:
            return entry.severity
    scores = [
        cvss3_score(s.get("score", ""))
        for s in raw.get("severity") or ()
        if isinstance(s, Mapping) and str(s.get("type", "")).startswith("CVSS_V3")
    ]
    best = max((s for s in scores if s is not None), default=None)
    return _rating(best) if best is not None else None


def _affected(entry: Mapping[str, Any]) -> _Affected | None:
    package = entry.get("package") or {}
    if package.get("ecosystem") != "PyPI" or not package.get("name"):
        return None
    versions = set()
    for raw in entry.get("versions") or ():
        try:
            versions.add(Version(raw))
        except InvalidVersion:
            continue  # a legacy version string: nothing PEP 440 can match
    ranges, fixed = [], []
    for spec in entry.get("ranges") or ():
        if spec.get("type") != "ECOSYSTEM":
            continue  # GIT ranges name commits, not releases
        events = []
        for event in spec.get("events") or ():
            for kind in ("introduced", "fixed", "last_affected", "limit"):
                if kind in event:
                    try:
                        _order(str(event[kind]))
                    except InvalidVersion:
                        continue
                    events.append((kind, str(event[kind])))
                    if kind == "fixed":
                        fixed.append(str(event[kind]))
        ranges.append(_Range(tuple(events)))
    specific = entry.get("ecosystem_specific")
    severity = severity_of(specific.get("severity")) if isinstance(specific, Mapping) else None
    return _Affected(
        canonicalize_name(package["name"]), frozenset(versions), tuple(ranges), tuple(fixed),
        severity,
    )  # fmt: skip


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0][:200] if lines else ""


def parse_record(raw: Mapping[str, Any]) -> Advisory | None:
    """One OSV record as an ``Advisory``; None when it is withdrawn or names no PyPI project."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or raw.get("withdrawn"):
        return None
    affected = [a for a in map(_affected, raw.get("affected") or ()) if a is not None]
    if not affected:
        return None
    return Advisory(
        id=raw["id"],
        summary=_first_line(raw.get("summary") or raw.get("details")),
        aliases=tuple(a for a in raw.get("aliases") or () if isinstance(a, str)),
        severity=_record_severity(raw, affected),
        affected=tuple(affected),
        raw=raw,
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Database:
    """Advisories by the project they affect, and by id."""

    by_project: Mapping[NormalizedName, tuple[Advisory, ...]] = dataclasses.field(
        default_factory=dict
    )
    by_id: Mapping[str, Advisory] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, advisories: Iterable[Advisory]) -> Database:
        by_project: dict[NormalizedName, list[Advisory]] = defaultdict(list)
        by_id: dict[str, Advisory] = {}
        for advisory in advisories:
            by_id[advisory.id] = advisory
            for name in {a.name for a in advisory.affected}:
                by_project[name].append(advisory)
        ordered = {n: tuple(sorted(a, key=lambda x: x.id)) for n, a in by_project.items()}
        return cls(ordered, by_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def affecting(self, name: str, version: str) -> tuple[Advisory, ...]:
        """The advisories that affect one release, by id.

        >>> db = Database.of([parse_record({"id": "PYSEC-0", "affected": [{"package":
        ...     {"ecosystem": "PyPI", "name": "Demo"}, "ranges": [{"type": "ECOSYSTEM",
        ...     "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]}]})])
        >>> [a.id for a in db.affecting("demo", "1.0")], db.affecting("demo", "1.1")
        (['PYSEC-0'], ())
        """
        candidates = self.by_project.get(canonicalize_name(name), ())
        return tuple(a for a in candidates if a.affects(name, version))


def parse_archive(data: bytes, source: str = "the OSV archive") -> Database:
    """The database in an OSV export ``all.zip`` (``source`` names it in errors)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ConfigError(
            f"{source} is not a zip archive: give the OSV export's all.zip for PyPI "
            "(osv-scanner's offline format)"
        ) from None
    advisories = []
    with archive:
        members = [m for m in archive.infolist() if m.filename.endswith(".json")]
        if len(members) > _MAX_RECORDS:
            raise ConfigError(f"{source} has {len(members)} records: is it the PyPI export?")
        for member in members:
            try:
                raw = json.loads(archive.read(member))
            except (ValueError, zipfile.BadZipFile) as e:
                raise ConfigError(
                    f"{source}: {member.filename!r} is not an OSV JSON record ({e}): "
                    "fetch the archive again"
                ) from None
            if (advisory := parse_record(raw)) is not None:
                advisories.append(advisory)
    return Database.of(advisories)
