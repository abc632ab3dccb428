"""A hashed requirements file pointed at the mirror (``blobpi lock rewrite``). Pure.

pip reads the index from the file's own option lines, so those are replaced by one
``--index-url`` for the mirror: ``--extra-index-url``, ``--find-links`` and
``--trusted-host`` go, since any second source could answer for a private name (dependency
confusion). Direct ``name @ URL`` lines get the mirror's URL of the same file. Everything else,
comments and ``--hash`` options included, stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from packaging.requirements import Requirement

from blobpi.mirror.core.requirements import RequirementLine

__all__ = ["hashes_of", "rewrite_requirements"]

_SOURCE_OPTIONS = re.compile(
    r"^\s*(-i|--index-url|--extra-index-url|-f|--find-links|--trusted-host|--no-index)"
    r"(\s|=|$)"
)
_SHA256_RE = re.compile(r"^sha256[:=]([0-9a-fA-F]{64})$")


def hashes_of(line: RequirementLine, req: Requirement) -> set[str]:
    """The sha256 digests a line allows: its ``--hash`` options and a URL's ``#sha256=``.

    >>> from blobpi.mirror.core.requirements import read_lines
    >>> line = read_lines("a @ https://h/a-1-py3-none-any.whl#sha256=" + "AB" * 32)[0]
    >>> hashes_of(line, Requirement(line.requirement)) == {"ab" * 32}
    True
    """
    found = set()
    for value in [*line.values("--hash"), (req.url or "").partition("#")[2]]:
        match = _SHA256_RE.match(value)
        if match:
            found.add(match[1].lower())
    return found


def rewrite_requirements(text: str, index_url: str, urls: Mapping[str, str]) -> str:
    """The file with the mirror as its only index and direct URLs swapped by ``urls``.

    >>> print(rewrite_requirements("--extra-index-url https://up/simple\\na==1\\n",
    ...                            "https://m/simple/", {}), end="")
    --index-url https://m/simple/
    a==1
    """
    out = [f"--index-url {index_url}"]
    for line in text.splitlines():
        if _SOURCE_OPTIONS.match(line):
            continue
        for old, new in urls.items():
            line = line.replace(old, new)
        out.append(line)
    return "\n".join(out) + "\n"
