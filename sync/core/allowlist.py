"""The allow-list: ``allowlist.in`` (PEP 508 lines) and its hashed lock ``allowlist.txt``.

Both are read by ``mirror.core.requirements`` (pip's file syntax: logical lines, comments,
options); this module adds the allow-list's rules: one PEP 508 requirement per line, no URL,
no option lines, and only ``--hash=sha256:<hex>`` options (pip's hash-checking mode). A
hashed line names exactly the files that may be mirrored for its version; a ranged or bare
line lets the sync filters choose.
A line may end with ``# blobpi: urgent: why``: the cool-down (``min-age-hours``) does not
hold it back, for an urgent security release reviewed like any other change.
Environment markers say which target needs a line; the mirror serves every target, so the
sync ignores them.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.requirements import RequirementLine, directive_of, read_lines
from blobpi.sync.core.seal import check_sealed

__all__ = ["Entry", "parse_allowlist", "parse_entry", "read_allowlist"]

_HASH_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One allow-list line."""

    name: NormalizedName
    specifier: SpecifierSet
    hashes: frozenset[str] = frozenset()  # sha256 hex digests; empty for unhashed lines
    marker: str | None = None  # PEP 508 marker text: which targets need this line
    text: str = ""  # the requirement as written, for messages
    # "# blobpi: urgent: why" after the line: a reviewed break-glass past the cool-down
    urgent: str | None = None

    @property
    def pinned(self) -> Version | None:
        """The version of an ``==`` pin (what a lock line holds), else None.

        >>> parse_allowlist("six==1.16.0")[0].pinned
        <Version('1.16.0')>
        """
        specs = list(self.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return Version(specs[0].version)
        return None


def parse_entry(line: RequirementLine, source: str = "allowlist") -> Entry:
    """One logical line as an entry, or a ``ConfigError`` naming ``source`` and the line."""
    where = f"{source}:{line.number}"
    if not line.requirement:
        raise ConfigError(
            f"{where}: option {line.options[0].name or line.text.split()[0]!r} is not "
            "supported: list requirements only (the upstream comes from --upstream or "
            "blobpi.toml)"
        )
    hashes = set()
    for option in line.options:
        match = _HASH_RE.fullmatch(option.value) if option.name == "--hash" else None
        if option.name == "--hash" and match is None:
            raise ConfigError(
                f"{where}: {option.text[:90]!r} is not a sha256 hash (--hash=sha256: "
                "then 64 hex digits): copy the hash again from the upstream, or relock"
            )
        if match is None:
            raise ConfigError(
                f"{where}: {option.text[:90]!r} is not supported after a requirement: "
                "only --hash=sha256:<hex> may follow it"
            )
        hashes.add(match[1].lower())
    try:
        requirement = Requirement(line.requirement)
    except InvalidRequirement as e:
        raise ConfigError(
            f"{where}: {line.requirement[:80]!r} is not a PEP 508 requirement "
            f"({str(e).splitlines()[0]}): write e.g. 'numpy>=1.26'"
        ) from None
    if requirement.url:
        raise ConfigError(
            f"{where}: {requirement.name!r} names a URL; the mirror takes "
            "projects from the upstream index only: give a version instead"
        )
    project_name(requirement.name)  # the same checks as any user-given name
    urgent = None
    for comment in line.comments:
        directive = directive_of(comment)
        if directive is not None and directive[0] == "urgent":
            if not directive[1]:
                raise ConfigError(
                    f"{where}: an urgent override needs a reason: write "
                    "'# blobpi: urgent: why this release cannot wait (e.g. the CVE it fixes)'"
                )
            urgent = directive[1]
    return Entry(
        name=canonicalize_name(requirement.name),
        specifier=requirement.specifier,
        hashes=frozenset(hashes),
        marker=str(requirement.marker) if requirement.marker else None,
        text=line.requirement,
        urgent=urgent,
    )


def parse_allowlist(text: str, source: str = "allowlist") -> list[Entry]:
    """Entries in file order (``source`` names the file in messages).

    >>> [e.name for e in parse_allowlist("Ruamel.YAML>=0.18  # a comment\\nsix")]
    ['ruamel-yaml', 'six']
    """
    return [parse_entry(line, source) for line in read_lines(text)]


def read_allowlist(path: Path) -> list[Entry]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(
            f"cannot read the allow-list {str(path)!r} ({e.strerror}): pass --allowlist FILE "
            "or set BLOBPI_ALLOWLIST"
        ) from None
    check_sealed(text, str(path))  # a lock written by 'blobpi lock' must be whole
    return parse_allowlist(text, str(path))
