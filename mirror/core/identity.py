"""Distribution identity: which files are "the same distribution", whatever their filenames say.

A filename string is not an identity: ``Acme-1.0-py3-none-any.whl``, ``acme-1.0.0-py3-none-any
.whl`` and ``acme-1.0-1-py3-none-any.whl`` are all what pip installs for ``acme==1.0`` on
Python 3, and if they held different bytes a resolver would pick one by filename order or
build tag. So a distribution is (normalized project name, normalized version, its wheel tags
or "sdist") (PEP 427, PEP 440, PEP 625), compared here for uniqueness, tombstones and the
sync alike:

- versions compare as PEP 440 versions, so ``1.0`` and ``1.0.0`` are one version;
- the build tag is left out: a second build of a version must not displace the first;
- two wheels clash when their tag sets share a tag (``py3-none-any`` and
  ``py2.py3-none-any``), since for that interpreter the installer cannot tell them apart;
- every sdist of a version (``.tar.gz``, ``.zip``) is one distribution.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable

from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_version, parse_wheel_filename

from blobpi.mirror.core.errors import InvalidName
from blobpi.mirror.core.names import parse_distribution_filename

__all__ = ["Identities", "Identity", "clashing", "identity"]


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    name: NormalizedName  # PEP 503 normalized
    version: str  # PEP 440 normalized, trailing ``.0`` stripped: 1.0 == 1.0.0
    tags: frozenset[Tag] | None  # a wheel's expanded tag set (PEP 425); None for an sdist

    def clashes(self, other: Identity) -> bool:
        """Whether an installer could take one for the other.

        >>> identity("a-1.0-py3-none-any.whl").clashes(identity("A-1.0.0-py2.py3-none-any.whl"))
        True
        >>> identity("a-1.0.tar.gz").clashes(identity("a-1.0-py3-none-any.whl"))
        False
        """
        if (self.name, self.version) != (other.name, other.version):
            return False
        if self.tags is None or other.tags is None:
            return self.tags is other.tags
        return not self.tags.isdisjoint(other.tags)


@functools.lru_cache(maxsize=1 << 16)  # pure; a 5,000-file page asks about each file often
def identity(filename: str) -> Identity:
    """The identity of a wheel or sdist filename; ``InvalidName`` if it is neither.

    >>> identity("Acme-1.0.tar.gz") == identity("acme-1.0.0.zip")
    True
    """
    dist = parse_distribution_filename(filename)
    version = canonicalize_version(dist.version, strip_trailing_zero=True)
    if dist.kind == "sdist":
        return Identity(dist.name, version, None)
    _, _, _, tags = parse_wheel_filename(filename)
    return Identity(dist.name, version, frozenset(tags))


class Identities:
    """Filenames by identity, for asking which of them a filename clashes with in time that
    does not grow with the project's other versions (a 5,000-file upload or sync asks it
    once per file). Names that do not parse are left out: they are no distribution at all.

    >>> taken = Identities(["acme-1.0.tar.gz", "acme-2.0-py3-none-any.whl", "notes.txt"])
    >>> taken.clashing("ACME-1.0.0.zip"), taken.clashing("acme-2.0-py2.py3-none-any.whl")
    (['acme-1.0.tar.gz'], ['acme-2.0-py3-none-any.whl'])
    >>> taken.add("acme-3.0.tar.gz"); taken.clashing("acme-3.0.zip")
    ['acme-3.0.tar.gz']
    """

    def __init__(self, filenames: Iterable[str] = ()) -> None:
        self._by_version: dict[tuple[str, str], list[tuple[str, Identity]]] = {}
        for filename in filenames:
            self.add(filename)

    def add(self, filename: str) -> None:
        try:
            found = identity(filename)
        except InvalidName:
            return
        self._by_version.setdefault((found.name, found.version), []).append((filename, found))

    def clashing(self, filename: str) -> list[str]:
        """The names that are the same distribution as ``filename`` (itself included), in
        the order they were added; ``InvalidName`` if ``filename`` is no distribution."""
        wanted = identity(filename)
        same_version = self._by_version.get((wanted.name, wanted.version), ())
        return [name for name, other in same_version if wanted.clashes(other)]


def clashing(filename: str, filenames: Iterable[str]) -> list[str]:
    """The names in ``filenames`` that are the same distribution as ``filename`` (itself
    included); names that do not parse are skipped, as they are no distribution at all.

    >>> clashing("ACME-1.0.tar.gz", ["acme-1.0.tar.gz", "acme-1.0-py3-none-any.whl"])
    ['acme-1.0.tar.gz']
    """
    return Identities(filenames).clashing(filename)
