"""Pinned requirements: the hashed lock (``pip-compile --generate-hashes`` output) that an
Azure ML environment installs. Pure: text in, frozen values out; the file's shape (logical
lines, comments, options) is read by ``mirror.core.requirements``, the rules are here.

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
from collections.abc import Sequence

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.requirements import RequirementLine, read_lines

__all__ = [
    "PinnedRequirement",
    "as_pip_lines",
    "check_locked_python",
    "locked_pythons",
    "parse_requirements",
    "parse_url_lines",
]

_HASH_RE = re.compile(r"(\w+):([0-9a-fA-F]+)")
_HASH_ALGORITHMS = ("sha256", "sha384", "sha512")
# blobpi lock's header (``sync.core.lockfile.lock_header``): the Pythons it resolved for
_TARGETS_RE = re.compile(r"^#\s*targets: CPython ((?:3\.\d+)(?:, 3\.\d+)*) on ", re.MULTILINE)


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


def as_pip_lines(requirements: Sequence[PinnedRequirement | str]) -> tuple[str, ...]:
    """The requirements-file lines: a pinned requirement's ``pip_line``; a URL line (what
    ``wheel-urls`` printed) as it is.

    >>> as_pip_lines([PinnedRequirement("a", "1", hashes=("sha256:ab",)), "b @ https://h/b.whl"])
    ('a==1 --hash=sha256:ab', 'b @ https://h/b.whl')
    """
    return tuple(r if isinstance(r, str) else r.pip_line for r in requirements)


def _parse_line(line: RequirementLine, source: str) -> PinnedRequirement:
    where = f"{source} line {line.number}"
    if not line.requirement:
        raise ConfigError(
            f"{where}: option {line.options[0].name or line.text.split()[0]!r} is not "
            "supported: the index is the mirror, which the helper sets; remove the line "
            "(and -r/-e/-c includes: pass one flat lock)"
        )
    try:
        req = Requirement(line.requirement)
    except InvalidRequirement as e:
        reason = str(e).splitlines()[0]
        raise ConfigError(
            f"{where}: {line.requirement!r} is not a requirement ({reason}): write NAME==VERSION"
        ) from None
    if req.url:
        raise ConfigError(
            f"{where}: {req.name!r} is a direct URL requirement: pin a version with '==' "
            "and let the mirror serve it"
        )
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        raise ConfigError(
            f"{where}: {line.requirement!r} is not pinned: pin one version with '==' "
            "(pip-compile --generate-hashes writes such a lock)"
        )
    if specs[0].operator == "==":
        try:
            Version(specs[0].version)
        except InvalidVersion:
            raise ConfigError(f"{where}: {specs[0].version!r} is not a valid version") from None
    hashes: list[str] = []
    for option in line.options:
        match = _HASH_RE.fullmatch(option.value) if option.name == "--hash" else None
        if not match or match.group(1).lower() not in _HASH_ALGORITHMS:
            raise ConfigError(
                f"{where}: {option.text[:60]!r} is not supported after a requirement: only "
                f"--hash=ALGORITHM:HEX ({', '.join(_HASH_ALGORITHMS)}) may follow it"
            )
        hashes.append(f"{match.group(1).lower()}:{match.group(2).lower()}")
    return PinnedRequirement(
        name=canonicalize_name(req.name),
        version=specs[0].version,
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker else None,
        hashes=tuple(hashes),
        line_number=line.number,
    )


def parse_requirements(text: str, source: str = "requirements") -> tuple[PinnedRequirement, ...]:
    """Parse a pinned, optionally hashed, requirements file; refuse anything unpinned.

    >>> [r.pip_line for r in parse_requirements("Foo_Bar==1.0 \\\\\\n  --hash=sha256:AB")]
    ['foo-bar==1.0 --hash=sha256:ab']
    """
    parsed = [_parse_line(line, source) for line in read_lines(text)]
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


def parse_url_lines(text: str, source: str = "requirements") -> tuple[str, ...] | None:
    """The lines of a blob-URL file (``blobpi azureml wheel-urls`` output: ``name @ URL``
    with ``#sha256=``), or None when no line is a URL line (then it is a lock).

    >>> parse_url_lines("a @ https://h/a-1-py3-none-any.whl?sig=x#sha256=" + "0" * 64)[0][:9]
    'a @ https'
    >>> parse_url_lines("a==1") is None
    True
    """
    lines = read_lines(text)
    urls = [line for line in lines if " @ " in line.requirement or "@" in line.requirement]
    if not urls:
        return None
    for line in lines:
        where = f"{source} line {line.number}"
        try:
            req = Requirement(line.requirement)
        except InvalidRequirement:
            req = None
        if req is None or not req.url or line.options:
            raise ConfigError(
                f"{where}: {line.text[:60]!r} is not a 'name @ URL#sha256=...' line, and a "
                "file with URL lines must hold only those: use wheel-urls output, or a lock"
            )
        if not re.search(r"#sha256=[0-9a-f]{64}$", req.url):
            raise ConfigError(
                f"{where}: the URL of {req.name!r} has no #sha256= fragment, so pip could not "
                "check the file: print the lines again with blobpi azureml wheel-urls"
            )
    return tuple(line.text for line in lines)


def locked_pythons(text: str) -> tuple[str, ...]:
    """The CPython versions a ``blobpi lock`` file was resolved for, from its header; empty
    for a lock that does not say (pip-compile's own, wheel-urls lines).

    >>> locked_pythons("#\\n# targets: CPython 3.10, 3.12 on x86_64-manylinux_2_28\\n")
    ('3.10', '3.12')
    """
    match = _TARGETS_RE.search(text)
    return tuple(match[1].split(", ")) if match else ()


def check_locked_python(python: str, locked: tuple[str, ...], source: str) -> None:
    """Refuse a target Python the lock was not resolved for: its pins may not install there
    (or a marker leaves a needed pin out), and the image build would fail late, or worse."""
    if locked and python not in locked:
        raise ConfigError(
            f"{source} was locked for CPython {', '.join(locked)}, not --python {python}: "
            f"pass --python {locked[-1]}, or add {python} to blobpi.toml [lock] python-versions "
            "and rerun blobpi lock"
        )
