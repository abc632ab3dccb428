"""Distribution identity (mirror/core/identity.py): which filenames are one distribution."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.identity import clashing, identity

BASE_WHEEL = "acme-1.0-py3-none-any.whl"
BASE_SDIST = "acme-1.0.tar.gz"


@pytest.mark.parametrize(
    ("filename", "same_as"),
    [
        ("Acme-1.0-py3-none-any.whl", BASE_WHEEL),  # case
        ("ACME-1.0-py3-none-any.whl", BASE_WHEEL),
        ("acme-1.0.0-py3-none-any.whl", BASE_WHEEL),  # trailing zero
        ("acme-1.0.0.0-py3-none-any.whl", BASE_WHEEL),
        ("acme-01.0-py3-none-any.whl", BASE_WHEEL),  # PEP 440 leading zero
        ("acme-1.0-1-py3-none-any.whl", BASE_WHEEL),  # a build tag does not make it new
        ("acme-1.0-py2.py3-none-any.whl", BASE_WHEEL),  # shares py3-none-any
        ("ACME-1.0.tar.gz", BASE_SDIST),
        ("acme-1.0.0.tar.gz", BASE_SDIST),
        ("acme-1.0.zip", BASE_SDIST),  # another sdist format of the same release
        ("Acme-1.0.0.zip", BASE_SDIST),
    ],
)
def test_identity__variants_are_the_same_distribution(filename: str, same_as: str) -> None:
    assert identity(filename).clashes(identity(same_as))
    assert clashing(filename, [BASE_WHEEL, BASE_SDIST]) == [same_as]


@pytest.mark.parametrize(
    "filename",
    [
        "acme-1.1-py3-none-any.whl",
        "acme-1.0.1-py3-none-any.whl",
        "acme-1.0.post1-py3-none-any.whl",
        "acme-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "acme-1.0-py2-none-any.whl",
        "acme_two-1.0-py3-none-any.whl",
        "acme-1.1.tar.gz",
    ],
)
def test_identity__distinct_distributions_do_not_clash(filename: str) -> None:
    assert clashing(filename, [BASE_WHEEL, BASE_SDIST]) == []


def test_identity__unparsable_names_in_a_listing_are_skipped() -> None:
    assert clashing(BASE_SDIST, ["not a dist", "../x", BASE_SDIST]) == [BASE_SDIST]
