"""Whether the container agrees with its pages, for ``blobpi check`` (pure).

Given the root list, the project pages and what a listing of ``packages/`` found (each
blob's size and its ``sha256`` metadata), say what is wrong: a listed project without a
page, a page not listed, a file a page links that is missing or whose size or sha256
metadata differs from the page, a wheel whose PEP 658 ``.metadata`` is missing; and which
blobs no page links (orphans), apart from those a sync has pruned and will delete after
its grace period.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

from blobpi.mirror.core.layout import metadata_path, provenance_path
from blobpi.mirror.core.model import ProjectList, ProjectPage

__all__ = ["Listed", "Findings", "compare"]


@dataclasses.dataclass(frozen=True, slots=True)
class Listed:
    """One blob as a listing shows it."""

    size: int
    sha256: str | None  # the blob's metadata, None when it has none


@dataclasses.dataclass(frozen=True, slots=True)
class Findings:
    problems: tuple[str, ...]  # each names the project, the file and what differs
    orphans: tuple[str, ...]  # blob paths no page links
    pending: int  # pruned blobs waiting for their grace period: expected, not orphans
    files: int  # files the pages link


def compare(
    root: ProjectList,
    pages: Sequence[ProjectPage],
    blobs: Mapping[str, Listed],
    pending: Iterable[str] = (),
) -> Findings:
    """What is wrong between ``pages`` and ``blobs``.

    >>> from blobpi.mirror.core.model import File
    >>> page = ProjectPage.build("a", [File.stored("packages/x/a-1.tar.gz", filename="a-1.tar.gz",
    ...     hashes={"sha256": "00"}, size=3)], ["1"])
    >>> found = compare(ProjectList.of(["a"]), [page], {"packages/x/a-1.tar.gz": Listed(3, "ff")})
    >>> found.problems
    ("a: a-1.tar.gz: the blob's sha256 metadata is 'ff', the page says '00'",)
    """
    names = {p.name for p in pages}
    problems = [
        f"{n}: listed in the root page, but it has no page" for n in root.projects if n not in names
    ]
    problems += [
        f"{p.name}: has a page, but the root page does not list it"
        for p in pages
        if p.name not in root.projects and p.files
    ]
    linked: set[str] = set()
    files = 0
    for page in pages:
        for f in page.files:
            path = f.blob_path
            if path is None:
                continue
            files += 1
            linked |= {path, metadata_path(path), provenance_path(path)}
            where = f"{page.name}: {f.filename}"
            blob = blobs.get(path)
            if blob is None:
                problems.append(f"{where}: the page links {path!r}, which is missing")
                continue
            if f.size is not None and blob.size != f.size:
                problems.append(f"{where}: the blob has {blob.size} bytes, the page says {f.size}")
            if blob.sha256 != f.sha256:
                problems.append(
                    f"{where}: the blob's sha256 metadata is {blob.sha256!r}, the page says "
                    f"{f.sha256!r}"
                )
            if f.core_metadata and metadata_path(path) not in blobs:
                problems.append(f"{where}: its PEP 658 .metadata file is missing")
    waiting = {q for p in pending for q in (p, metadata_path(p), provenance_path(p))}
    orphans = sorted(p for p in blobs if p not in linked and p not in waiting)
    return Findings(tuple(problems), tuple(orphans), len(set(pending) & set(blobs)), files)
