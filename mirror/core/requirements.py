"""The one reader of requirements files (pip's format): allow-lists, locks, Azure ML pins. Pure.

pip's rules for the file's shape, and nothing about what a caller accepts: physical lines
joined at a trailing ``\\``; ``#`` comments (at a line start or after whitespace, so a URL's
``#sha256=`` fragment stays); each logical line split into its PEP 508 requirement (markers
and ``name @ url`` included) and the options after it (``--hash=sha256:...``, pip's
hash-checking mode); a line that starts with ``-`` (``-r``, ``-c``, ``--index-url``...) is an
option line with no requirement. Whole-line comments that follow a line are kept with it
(pip-compile's ``# via`` parents). Callers keep their own rules on top.

blobpi's own reviewed lines are comments, so that pip reads the same file unchanged:
``# blobpi: VERB TEXT`` (``read_directives``, ``directive_of``), e.g. an advisory waiver on a
line of its own, or ``# blobpi: urgent: why`` after a requirement (a cool-down override).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

__all__ = [
    "Directive",
    "Option",
    "RequirementLine",
    "directive_of",
    "read_directives",
    "read_lines",
]

_COMMENT_RE = re.compile(r"(^|\s)#(.*)$")
_OPTION_START_RE = re.compile(r"(?:^|\s+)(?=--?[A-Za-z])")  # where pip's options begin
_TOKEN_RE = re.compile(r"\S+")
_DIRECTIVE_RE = re.compile(r"^blobpi:\s*([a-z][a-z-]*)\b:?\s*(.*)$")


@dataclasses.dataclass(frozen=True, slots=True)
class Option:
    """One option on a line: ``--hash=sha256:ab`` is ("--hash", "sha256:ab"). Text after
    the options that is not one has the name ``""``."""

    name: str
    value: str = ""
    text: str = ""  # as written, for messages


@dataclasses.dataclass(frozen=True, slots=True)
class RequirementLine:
    number: int  # its first physical line, 1-based
    text: str  # the logical line, joined, without comments
    requirement: str  # the PEP 508 part; "" on an option line
    options: tuple[Option, ...] = ()
    comments: tuple[str, ...] = ()  # comment texts on it and on the lines that follow it

    def values(self, name: str) -> list[str]:
        """The values of every option called ``name``.

        >>> read_lines("a==1 --hash=sha256:ab --hash sha256:cd")[0].values("--hash")
        ['sha256:ab', 'sha256:cd']
        """
        return [o.value for o in self.options if o.name == name]


def _options(text: str) -> tuple[Option, ...]:
    options: list[Option] = []
    for match in _TOKEN_RE.finditer(text):
        token = match[0]
        last = options[-1] if options else None
        if token.startswith("-") and len(token) > 1:
            name, eq, value = token.partition("=")
            options.append(Option(name, value, token) if eq else Option(name, "", token))
        elif last is not None and last.name and not last.value and "=" not in last.text:
            options[-1] = Option(last.name, token, f"{last.text} {token}")
        else:
            options.append(Option("", token, token))
    return tuple(options)


def _split(number: int, text: str, comments: list[str]) -> RequirementLine:
    parts = _OPTION_START_RE.split(text, maxsplit=1)
    requirement, rest = (parts[0], parts[1]) if len(parts) == 2 else (text, "")
    return RequirementLine(number, text, requirement.strip(), _options(rest), tuple(comments))


def _physical(text: str) -> Iterator[tuple[int, str, str | None]]:
    """(number, line without its comment, the comment's text or None)."""
    for number, raw in enumerate(text.splitlines(), 1):
        match = _COMMENT_RE.search(raw)
        if match is None:
            yield number, raw.rstrip(), None
        else:
            yield number, raw[: match.start()].rstrip(), match[2].strip()


def read_lines(text: str) -> list[RequirementLine]:
    """The logical lines of a requirements file, in order; blank and comment lines fold away.

    >>> [(r.number, r.requirement, r.values("--hash"), r.comments) for r in read_lines(
    ...     "# header\\nsix==1.17 \\\\\\n  --hash=sha256:ab  # pinned\\n    # via x\\n-r more.txt")]
    [(2, 'six==1.17', ['sha256:ab'], ('pinned', 'via x')), (5, '', [], ())]
    """
    lines: list[RequirementLine] = []
    pending: list[str] = []
    comments: list[str] = []
    start, attach = 0, False  # attach: a whole-line comment here belongs to the last line
    for number, line, comment in _physical(text):
        if not pending:
            start = number
        if comment is not None and (pending or line.strip()):
            comments.append(comment)
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        joined = " ".join(p.strip() for p in [*pending, line] if p.strip())
        pending = []
        if joined:
            lines.append(_split(start, joined, comments))
            comments, attach = [], True
        elif comment is not None and attach:
            # a whole-line comment right after a line: pip-compile's "# via" parents
            lines[-1] = dataclasses.replace(lines[-1], comments=(*lines[-1].comments, comment))
        else:
            attach = False  # a blank line, or a comment before any line, ends the block
    if pending and (joined := " ".join(p.strip() for p in pending if p.strip())):
        lines.append(_split(start, joined, comments))
    return lines


@dataclasses.dataclass(frozen=True, slots=True)
class Directive:
    number: int  # its physical line, 1-based
    verb: str  # what it asks: "waive", "urgent"
    text: str  # the rest of the comment
    alone: bool  # on a line of its own, not after a requirement


def directive_of(comment: str) -> tuple[str, str] | None:
    """(verb, text) of a ``blobpi:`` comment's text, else None.

    >>> directive_of("blobpi: urgent: CVE fix"), directive_of("via six")
    (('urgent', 'CVE fix'), None)
    """
    match = _DIRECTIVE_RE.match(comment.strip())
    return (match[1], match[2].strip()) if match else None


def read_directives(text: str) -> list[Directive]:
    """Every ``# blobpi: ...`` comment in a requirements file, in order.

    >>> [(d.number, d.verb, d.alone) for d in read_directives(
    ...     "# blobpi: waive X until 2026-01-01: why\\nsix  # blobpi: urgent: fix")]
    [(1, 'waive', True), (2, 'urgent', False)]
    """
    found = []
    for number, line, comment in _physical(text):
        parsed = directive_of(comment) if comment is not None else None
        if parsed is not None:
            found.append(Directive(number, parsed[0], parsed[1], not line.strip()))
    return found
