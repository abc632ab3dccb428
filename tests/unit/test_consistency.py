"""``mirror.core.consistency``: what ``blobpi check`` reports for each kind of damage."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.core.consistency import Listed, compare
from blobpi.mirror.core.layout import metadata_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage

WHEEL = "packages/aa/bb/cc/demo-1.0-py3-none-any.whl"
SDIST = "packages/aa/bb/dd/demo-1.0.tar.gz"


def _page() -> ProjectPage:
    files = [
        File.stored(
            WHEEL,
            filename="demo-1.0-py3-none-any.whl",
            hashes={"sha256": "a" * 64},
            size=10,
            core_metadata={"sha256": "m" * 64},
        ),
        File.stored(SDIST, filename="demo-1.0.tar.gz", hashes={"sha256": "b" * 64}, size=20),
    ]
    return ProjectPage.build(canonicalize_name("demo"), files, ["1.0"])


def _blobs() -> dict[str, Listed]:
    return {
        WHEEL: Listed(10, "a" * 64),
        metadata_path(WHEEL): Listed(3, "m" * 64),
        SDIST: Listed(20, "b" * 64),
    }


ROOT = ProjectList.of([canonicalize_name("demo")])


def test_consistency__a_sound_container() -> None:
    found = compare(ROOT, [_page()], _blobs())
    assert (found.problems, found.orphans, found.files) == ((), (), 2)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (
            lambda b: b.pop(SDIST),
            f"demo: demo-1.0.tar.gz: the page links {SDIST!r}, which is missing",
        ),
        (
            lambda b: b.update({SDIST: Listed(19, "b" * 64)}),
            "demo: demo-1.0.tar.gz: the blob has 19 bytes, the page says 20",
        ),
        (
            lambda b: b.update({SDIST: Listed(20, None)}),
            "demo: demo-1.0.tar.gz: the blob's sha256 metadata is None, the page says "
            f"{'b' * 64!r}",
        ),
        (
            lambda b: b.pop(metadata_path(WHEEL)),
            "demo: demo-1.0-py3-none-any.whl: its PEP 658 .metadata file is missing",
        ),
    ],
)
def test_consistency__names_each_damage(damage: object, problem: str) -> None:
    blobs = _blobs()
    damage(blobs)  # type: ignore[operator]
    assert compare(ROOT, [_page()], blobs).problems == (problem,)


def test_consistency__root_and_pages_must_agree() -> None:
    other = ProjectList.of([canonicalize_name("demo"), canonicalize_name("gone")])
    assert compare(other, [_page()], _blobs()).problems == (
        "gone: listed in the root page, but it has no page",
    )
    assert compare(ProjectList(), [_page()], _blobs()).problems == (
        "demo: has a page, but the root page does not list it",
    )


def test_consistency__orphans_apart_from_pending_deletions() -> None:
    blobs = _blobs() | {
        "packages/x/y/z/old-1.0.tar.gz": Listed(1, "c"),
        "packages/p/q/r/pruned-1.0-py3-none-any.whl": Listed(1, "d"),
        "packages/p/q/r/pruned-1.0-py3-none-any.whl.metadata": Listed(1, "e"),
    }
    found = compare(ROOT, [_page()], blobs, pending=["packages/p/q/r/pruned-1.0-py3-none-any.whl"])
    assert found.orphans == ("packages/x/y/z/old-1.0.tar.gz",)
    assert found.pending == 1
