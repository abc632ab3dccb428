"""The curation gate: which pins the advisories keep out, and the reviewed waivers. Pure.

Policy (``[curation]`` in ``blobpi.toml``): a release with a malware advisory (``MAL-``) is
never mirrored, and leaves the pages at once if it was; any other advisory blocks when its
severity is at least ``block-severity`` (``any`` blocks every advisory, unknown severity
included; ``none`` blocks malware only). A waiver is a reviewed line in the allow-list::

    # blobpi: waive GHSA-xxxx-xxxx-xxxx until 2026-06-30: not reachable, we never parse URLs

naming the advisory (its id or an alias), the last day it holds, and why. An expired waiver
blocks again; malware cannot be waived (take the pin out instead).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from packaging.utils import canonicalize_name

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.requirements import read_directives
from blobpi.sync.core.advisories import SEVERITIES, Advisory, Database

__all__ = ["Finding", "Gate", "Holds", "Waiver", "holds", "parse_waivers", "plan_digest"]

Verdict = Literal["malware", "blocked", "expired", "waived", "allowed"]
_WAIVE_RE = re.compile(r"(?P<id>\S+)\s+until\s+(?P<until>\d{4}-\d{2}-\d{2})\s*:\s*(?P<why>\S.*)$")


@dataclasses.dataclass(frozen=True, slots=True)
class Waiver:
    advisory: str  # an id or an alias
    until: dt.date  # the last day it holds
    reason: str
    where: str  # file:line, for messages


def parse_waivers(text: str, source: str = "allowlist") -> list[Waiver]:
    """The ``# blobpi: waive`` lines of an allow-list or lock.

    >>> parse_waivers("# blobpi: waive PYSEC-1 until 2026-01-31: no user input reaches it")
    [Waiver(advisory='PYSEC-1', until=datetime.date(2026, 1, 31), reason='no user input reaches it', where='allowlist:1')]
    """  # noqa: E501
    waivers = []
    for directive in read_directives(text):
        if directive.verb != "waive":
            continue
        where = f"{source}:{directive.number}"
        match = _WAIVE_RE.match(directive.text)
        try:
            until = dt.date.fromisoformat(match["until"]) if match else None
        except ValueError:
            until = None
        if match is None or until is None:
            raise ConfigError(
                f"{where}: {directive.text[:80]!r} is not a waiver: write '# blobpi: waive "
                "ADVISORY-ID until YYYY-MM-DD: why it does not apply'"
            )
        if match["id"].startswith("MAL-"):
            raise ConfigError(
                f"{where}: {match['id']!r} is malware, which cannot be waived: remove the "
                "pin from the allow-list and relock"
            )
        waivers.append(Waiver(match["id"], until, match["why"].strip(), where))
    return waivers


@dataclasses.dataclass(frozen=True, slots=True)
class Finding:
    name: str
    version: str
    advisory: Advisory
    verdict: Verdict
    waiver: Waiver | None = None

    @property
    def blocks(self) -> bool:
        return self.verdict in ("malware", "blocked", "expired")

    def describe(self) -> str:
        """One line: the advisory, severity, fix, and what the gate made of it."""
        a = self.advisory
        fixed = a.fixed_in(self.name)
        fix = f"fixed in {', '.join(fixed)}" if fixed else "no fixed version"
        head = f"{self.name}=={self.version}: {a.id} ({a.severity or 'severity unknown'}, {fix})"
        summary = f" {a.summary}" if a.summary else ""
        if self.verdict == "malware":
            return f"{head} MALWARE:{summary}"
        if self.verdict == "waived" and self.waiver:
            w = self.waiver
            return f"{head} waived until {w.until} ({w.where}: {w.reason}):{summary}"
        if self.verdict == "expired" and self.waiver:
            return f"{head} BLOCKED, waiver expired {self.waiver.until} ({self.waiver.where}):{summary}"  # noqa: E501
        return f"{head} {'BLOCKED' if self.blocks else 'allowed'}:{summary}"

    def fix(self) -> str:
        """What the reader can do about a blocking finding."""
        if self.verdict == "malware":
            return "remove it from the allow-list and relock; it is never mirrored"
        fixed = self.advisory.fixed_in(self.name)
        upgrade = f"raise it to {fixed[-1]} or later and relock, or " if fixed else ""
        return (
            f"{upgrade}waive it in the allow-list ('# blobpi: waive {self.advisory.id} until "
            "YYYY-MM-DD: why')"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Gate:
    database: Database
    block_severity: str = "high"
    waivers: tuple[Waiver, ...] = ()
    today: dt.date = dt.date(1970, 1, 1)

    def _severe(self, advisory: Advisory) -> bool:
        if self.block_severity == "any":
            return True
        if self.block_severity == "none" or advisory.severity is None:
            return False
        return SEVERITIES.index(advisory.severity) >= SEVERITIES.index(self.block_severity)

    def judge(self, name: str, version: str) -> list[Finding]:
        """Every advisory that affects one release, with the gate's verdict on each."""
        findings = []
        for advisory in self.database.affecting(name, version):
            if advisory.malware:
                findings.append(Finding(name, version, advisory, "malware"))
                continue
            names = advisory.names()
            waivers = sorted(
                (w for w in self.waivers if w.advisory in names), key=lambda w: w.until
            )
            waiver = waivers[-1] if waivers else None
            if not self._severe(advisory):
                findings.append(Finding(name, version, advisory, "allowed", waiver))
            elif waiver is None:
                findings.append(Finding(name, version, advisory, "blocked"))
            elif waiver.until < self.today:
                findings.append(Finding(name, version, advisory, "expired", waiver))
            else:
                findings.append(Finding(name, version, advisory, "waived", waiver))
        return findings

    def audit(self, pins: Iterable[tuple[str, str]]) -> list[Finding]:
        """Findings for many releases, in name and id order."""
        found = [f for name, version in sorted(set(pins)) for f in self.judge(name, version)]
        return sorted(found, key=lambda f: (f.name, f.version, f.advisory.id))

    def blocking(self, name: str, version: str) -> Sequence[Finding]:
        return [f for f in self.judge(name, version) if f.blocks]

    def held(self, name: str, versions: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """(blocked, takedown) for ``sync.core.plan``: version -> why, for the versions of
        one project that the gate keeps out; malware is a takedown."""
        blocked, takedown = {}, {}
        for version in sorted(set(versions)):
            findings = self.blocking(name, version)
            malware = [f for f in findings if f.verdict == "malware"]
            if malware:
                takedown[version] = "; ".join(f.describe() for f in malware)
            elif findings:
                blocked[version] = "; ".join(f"{f.describe()} Fix: {f.fix()}" for f in findings)
        return blocked, takedown

    def fingerprint(self, name: str) -> str:
        """What the gate's verdicts on a project depend on: unchanged means the same verdicts,
        so the sync may trust an upstream 304 for it."""
        advisories = self.database.by_project.get(canonicalize_name(name), ())
        ids = sorted((a.id, a.severity or "", str(a.raw.get("modified", ""))) for a in advisories)
        waivers = sorted((w.advisory, str(w.until), w.until < self.today) for w in self.waivers)
        raw = json.dumps([ids, waivers, self.block_severity])
        return hashlib.sha256(raw.encode()).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Holds:
    """What ``sync.core.plan`` is told to keep out of one project's pages (version -> why)."""

    blocked: dict[str, str] = dataclasses.field(default_factory=dict)
    takedown: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()


def holds(
    gate: Gate | None,
    name: str,
    versions: Iterable[str],
    status: str | None = None,
    reason: str | None = None,
) -> Holds:
    """The gate's verdicts on a project's versions, and a PEP 792 quarantine upstream
    (``status``), which takes down every version.

    >>> holds(None, "demo", ["1.0"], "quarantined", "malware").takedown
    {'1.0': "the upstream quarantined 'demo' (malware)"}
    """
    versions = set(versions)
    blocked, takedown = gate.held(name, versions) if gate is not None else ({}, {})
    notes: tuple[str, ...] = ()
    if status == "quarantined":  # the upstream offers none of it, on purpose
        why = f"the upstream quarantined {name!r} ({reason or 'no reason given'})"
        takedown.update(dict.fromkeys(versions, why))
        notes = (f"{why}: its files leave the pages now",)
    return Holds(blocked, takedown, notes)


def plan_digest(digest: str, gate: Gate | None, name: str, local_status: object) -> str:
    """A project's inputs digest with what else changes its plan: new advisories, waivers
    and their expiry, a local status. Unchanged when there is none, so old state stays valid.

    >>> plan_digest("d", None, "demo", {})
    'd'
    """
    extra = (gate.fingerprint(name) if gate else "") + json.dumps(local_status or "")
    if extra == '""':
        return digest
    return hashlib.sha256((digest + extra).encode()).hexdigest()
