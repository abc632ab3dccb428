"""Pinned requirements: the hashed lock (``pip-compile --generate-hashes`` output) that an
Azure ML environment installs. Pure: text in, frozen values out.

Every line must pin one version (PEP 440 ``==`` without a wildcard, or ``===``), because an
environment built from the mirror must be reproducible and blob-URL mode needs one file per
line. ``--hash`` options (pip's hash-checking mode) are kept; pip requires them on all lines
or none, so a lock with some missing is refused here rather than in the image build. Options
that choose an index (``--index-url``, ``--extra-index-url``, ``--find-links``) are refused:
the index is the mirror, set by the helper. Markers (PEP 508) are kept.
"""

from __future__ import annotations

import dataclasses
import re

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.errors import ConfigError

__all__ = ["PinnedRequirement", "parse_requirements"]

_HASH_RE = re.compile(r"^--hash[= ](\w+):([0-9a-fA-F]+)$")
_OPTION_START = re.compile(r"\s+(?=--?[A-Za-z])")  # where pip's options begin on a line
_HASH_ALGORITHMS = ("sha256", "sha384", "sha512")


@dataclasses.dataclass(frozen=True, slots=True)
class PinnedRequirement:
    name: NormalizedName
    version: str  # exactly as pinned; compare with ``Version(version)``
    extras: tuple[str, ...] = ()
    marker: str | None = None  # PEP 508 environment marker, unevaluated
    hashes: tuple[str, ...] = ()  # "algorithm:hexdigest", as pip's --hash takes them
    line_number: int = 0

    @property
    def requirement(self) -> str:
        """The PEP 508 requirement without options.

        >>> PinnedRequirement("a-b", "1.0", extras=("x",), marker='os_name == "posix"').requirement
        'a-b[x]==1.0 ; os_name == "posix"'
        """
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        marker = f" ; {self.marker}" if self.marker else ""
        return f"{self.name}{extras}=={self.version}{marker}"

    @property
    def pip_line(self) -> str:
        """The line for a requirements file or a conda ``pip:`` section, hashes included."""
        return " ".join([self.requirement, *(f"--hash={h}" for h in self.hashes)])

    def sha256s(self) -> frozenset[str]:
        return frozenset(h.split(":", 1)[1] for h in self.hashes if h.startswith("sha256:"))

    def applies(self, environment: dict[str, str]) -> bool:
        """Whether the marker holds in a target environment (PEP 508 marker variables)."""
        return self.marker is None or Marker(self.marker).evaluate(environment)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments, as pip reads a requirements file."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        line = re.sub(r"(^|\s+)#.*$", "", raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            lines.append((start, joined))
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def _parse_line(number: int, line: str, source: str) -> PinnedRequirement:
    where = f"{source} line {number}"
    if line.startswith("-"):
        option = line.split()[0].split("=")[0]
        raise ConfigError(
            f"{where}: option {option!r} is not supported: the index is the mirror, which "
            "the helper sets; remove the line (and -r/-e/-c includes: pass one flat lock)"
        )
    requirement_text, *rest = _OPTION_START.split(line, maxsplit=1)
    options_text = rest[0] if rest else ""
    try:
        req = Requirement(requirement_text)
    except InvalidRequirement as e:
        reason = str(e).splitlines()[0]
        raise ConfigError(
            f"{where}: {requirement_text!r} is not a requirement ({reason}): write NAME==VERSION"
        ) from None
    if req.url:
        raise ConfigError(
            f"{where}: {req.name!r} is a direct URL requirement: pin a version with '==' "
            "and let the mirror serve it"
        )
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        raise ConfigError(
            f"{where}: {requirement_text!r} is not pinned: pin one version with '==' "
            "(pip-compile --generate-hashes writes such a lock)"
        )
    if specs[0].operator == "==":
        try:
            Version(specs[0].version)
        except InvalidVersion:
            raise ConfigError(f"{where}: {specs[0].version!r} is not a valid version") from None
    hashes: list[str] = []
    for token in re.split(r"\s+(?=--)", options_text) if options_text else []:
        match = _HASH_RE.match(token.strip())
        if not match or match.group(1).lower() not in _HASH_ALGORITHMS:
            raise ConfigError(
                f"{where}: {token.strip()[:60]!r} is not supported after a requirement: only "
                f"--hash=ALGORITHM:HEX ({', '.join(_HASH_ALGORITHMS)}) may follow it"
            )
        hashes.append(f"{match.group(1).lower()}:{match.group(2).lower()}")
    return PinnedRequirement(
        name=canonicalize_name(req.name),
        version=specs[0].version,
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker else None,
        hashes=tuple(hashes),
        line_number=number,
    )


def parse_requirements(text: str, source: str = "requirements") -> tuple[PinnedRequirement, ...]:
    """Parse a pinned, optionally hashed, requirements file; refuse anything unpinned.

    >>> [r.pip_line for r in parse_requirements("Foo_Bar==1.0 \\\\\\n  --hash=sha256:AB")]
    ['foo-bar==1.0 --hash=sha256:ab']
    """
    parsed = [_parse_line(number, line, source) for number, line in _logical_lines(text)]
    if not parsed:
        raise ConfigError(f"{source} lists no requirements: give a pinned lock file")
    seen: dict[tuple[str, str | None], int] = {}
    for req in parsed:
        key = (req.name, req.marker)
        if key in seen:
            raise ConfigError(
                f"{source} line {req.line_number}: {req.name!r} is pinned again (first on "
                f"line {seen[key]}): keep one line per project"
            )
        seen[key] = req.line_number
    hashed = [r for r in parsed if r.hashes]
    if hashed and len(hashed) != len(parsed):
        missing = next(r for r in parsed if not r.hashes)
        raise ConfigError(
            f"{source} line {missing.line_number}: {missing.name!r} has no --hash while other "
            "lines do, and pip refuses such a mix: regenerate with pip-compile --generate-hashes"
        )
    return tuple(parsed)
