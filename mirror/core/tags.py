"""Which wheels a target takes: PEP 425 tags (and PEP 600/656 platforms), by ``packaging.tags``.

One model for the sync filters and the Azure ML targets: a target is a CPython version and
the platform tags it accepts; its supported tags, best first, are what ``packaging.tags``
generates for that interpreter (``cp311-cp311``, ``abi3`` from older minors, ``py3*-none``,
``*-none-any``), kept to the listed platforms. ``"any"`` in the list admits pure wheels.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from packaging.tags import Tag, compatible_tags, cpython_tags

__all__ = ["rank", "supported_tags", "wheel_fits"]


def supported_tags(python: tuple[int, int], platforms: Sequence[str]) -> tuple[Tag, ...]:
    """The tags CPython ``python`` installs on ``platforms``, best first.

    >>> [str(t) for t in supported_tags((3, 11), ["manylinux_2_17_x86_64", "any"])][:3]
    ['cp311-cp311-manylinux_2_17_x86_64', 'cp311-abi3-manylinux_2_17_x86_64', \
'cp311-none-manylinux_2_17_x86_64']
    """
    return _supported(python, tuple(platforms))


@functools.lru_cache(maxsize=256)  # the sync asks for the same few targets per file
def _supported(python: tuple[int, int], platforms: tuple[str, ...]) -> tuple[Tag, ...]:
    interpreter = f"cp{python[0]}{python[1]}"
    concrete = [p for p in platforms if p != "any"]
    # packaging falls back to *this* machine's platforms when given none, so never pass none.
    tags = [
        *(cpython_tags(python, abis=[interpreter], platforms=concrete) if concrete else ()),
        *compatible_tags(python, interpreter=interpreter, platforms=concrete or ["any"]),
    ]
    allowed = set(platforms)
    return tuple(dict.fromkeys(t for t in tags if t.platform in allowed))


def rank(wheel_tags: Iterable[Tag], supported: Sequence[Tag]) -> int | None:
    """Where the wheel's best tag stands in ``supported`` (0 is best); None if none is there.

    >>> from packaging.tags import parse_tag
    >>> pure = supported_tags((3, 12), ["any"])
    >>> rank(parse_tag("py2.py3-none-any"), pure), rank(parse_tag("cp312-cp312-win_amd64"), pure)
    (1, None)
    """
    order = {tag: i for i, tag in enumerate(supported)}
    scores = [order[t] for t in wheel_tags if t in order]
    return min(scores) if scores else None


def wheel_fits(
    wheel_tags: Iterable[Tag], python: tuple[int, int], platforms: Sequence[str]
) -> bool:
    """Whether a wheel with these tags installs on CPython ``python`` on any of ``platforms``."""
    return rank(wheel_tags, supported_tags(python, platforms)) is not None
