"""The allow-list: ``allowlist.in`` (PEP 508 lines) and its hashed lock ``allowlist.txt``.

Both are read by one parser, in the requirements-file syntax pip and pip-tools write: one
PEP 508 requirement per logical line, ``\\`` continuations, ``#`` comments, and
``--hash=sha256:<hex>`` options (pip's hash-checking mode). A hashed line names exactly the
files that may be mirrored for its version; a ranged or bare line lets the sync filters choose.
Environment markers say which target needs a line; the mirror serves every target, so the
sync ignores them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.names import project_name

__all__ = ["Entry", "parse_allowlist", "read_allowlist"]

_HASH_RE = re.compile(r"--hash[= ]sha256:([0-9a-fA-F]{64})(?=\s|$)")
_ANY_HASH_RE = re.compile(r"--hash[= ]?(\S*)")
_COMMENT_RE = re.compile(r"(^|\s)#.*$")


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One allow-list line."""

    name: NormalizedName
    specifier: SpecifierSet
    hashes: frozenset[str] = frozenset()  # sha256 hex digests; empty for unhashed lines
    marker: str | None = None  # PEP 508 marker text: which targets need this line
    text: str = ""  # the requirement as written, for messages

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


def _logical_lines(text: str, first_line: int = 1) -> Iterable[tuple[int, str]]:
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), first_line):
        line = _COMMENT_RE.sub("", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            yield start, pending.strip()
        pending = ""
    if pending.strip():
        yield start, pending.strip()


def parse_allowlist(text: str, source: str = "allowlist", *, first_line: int = 1) -> list[Entry]:
    """Entries in file order (``first_line``: the number of the text's first line in
    ``source``, for messages).

    >>> [e.name for e in parse_allowlist("Ruamel.YAML>=0.18  # a comment\\nsix")]
    ['ruamel-yaml', 'six']
    """
    entries = []
    for number, line in _logical_lines(text, first_line):
        hashes = frozenset(h.lower() for h in _HASH_RE.findall(line))
        requirement_text = _HASH_RE.sub("", line).strip()
        bad_hash = _ANY_HASH_RE.search(requirement_text)
        if bad_hash:
            raise ConfigError(
                f"{source}:{number}: {bad_hash[0][:90]!r} is not a sha256 hash (--hash=sha256: "
                "then 64 hex digits): copy the hash again from the upstream, or relock"
            )
        if requirement_text.startswith("-"):
            raise ConfigError(
                f"{source}:{number}: option {requirement_text.split()[0]!r} is not supported: "
                "list requirements only (the upstream comes from --upstream or blobpi.toml)"
            )
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement as e:
            raise ConfigError(
                f"{source}:{number}: {requirement_text[:80]!r} is not a PEP 508 requirement "
                f"({str(e).splitlines()[0]}): write e.g. 'numpy>=1.26'"
            ) from None
        if requirement.url:
            raise ConfigError(
                f"{source}:{number}: {requirement.name!r} names a URL; the mirror takes "
                "projects from the upstream index only: give a version instead"
            )
        project_name(requirement.name)  # the same checks as any user-given name
        entries.append(
            Entry(
                name=canonicalize_name(requirement.name),
                specifier=requirement.specifier,
                hashes=hashes,
                marker=str(requirement.marker) if requirement.marker else None,
                text=requirement_text,
            )
        )
    return entries


def read_allowlist(path: Path) -> list[Entry]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(
            f"cannot read the allow-list {str(path)!r} ({e.strerror}): pass --allowlist FILE "
            "or set BLOBPI_ALLOWLIST"
        ) from None
    return parse_allowlist(text, str(path))
