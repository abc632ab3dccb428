"""``blobpi.mirror.core.tags``: which wheel tags a CPython target takes, by packaging.tags."""

from __future__ import annotations

import pytest
from packaging.tags import parse_tag

from blobpi.deploy.core.targets import Target
from blobpi.mirror.core.tags import rank, supported_tags, wheel_fits

LINUX = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "any"]
MUSL = ["musllinux_1_2_aarch64", "musllinux_1_1_aarch64", "any"]
MAC = ["macosx_14_0_arm64", "macosx_11_0_arm64", "macosx_11_0_universal2", "any"]
WINDOWS = ["win_amd64", "any"]


@pytest.mark.parametrize(
    ("tag", "python", "platforms", "fits"),
    [
        ("py2.py3-none-any", (3, 11), LINUX, True),
        ("py3-none-any", (3, 12), WINDOWS, True),
        ("py2-none-any", (3, 12), LINUX, False),
        ("py311-none-any", (3, 12), LINUX, True),  # pip takes an older minor's pure wheel
        ("py313-none-any", (3, 12), LINUX, False),
        ("py3-none-any", (3, 12), ["win_amd64"], False),  # "any" not listed: no pure wheels
        ("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64", (3, 11), LINUX, True),
        ("cp311-cp311-manylinux_2_17_x86_64", (3, 12), LINUX, False),  # cp311 is not cp312
        ("cp312-cp312-manylinux_2_28_x86_64", (3, 11), LINUX, False),
        ("cp312-cp312-manylinux_2_34_x86_64", (3, 12), LINUX, False),  # newer glibc than listed
        ("cp312-cp312-manylinux_2_28_aarch64", (3, 12), LINUX, False),  # other arch
        ("cp310-abi3-manylinux_2_17_x86_64", (3, 12), LINUX, True),  # abi3 from an older minor
        ("cp312-abi3-manylinux_2_17_x86_64", (3, 11), LINUX, False),  # abi3 from a newer one
        ("cp311-none-manylinux_2_17_x86_64", (3, 11), LINUX, True),
        ("pp310-pypy310_pp73-manylinux_2_17_x86_64", (3, 10), LINUX, False),  # not CPython
        ("cp312-cp312-musllinux_1_1_aarch64", (3, 12), MUSL, True),
        ("cp312-cp312-manylinux_2_17_aarch64", (3, 12), MUSL, False),
        ("cp312-cp312-macosx_11_0_arm64", (3, 12), MAC, True),
        ("cp312-cp312-macosx_11_0_universal2", (3, 12), MAC, True),
        ("cp312-cp312-macosx_11_0_x86_64", (3, 12), MAC, False),
        ("cp312-cp312-win_amd64", (3, 12), WINDOWS, True),
        ("cp312-cp312-win32", (3, 12), WINDOWS, False),
        ("cp312-cp312-win_amd64", (3, 12), LINUX, False),
    ],
)
def test_wheel_fits__table(
    tag: str, python: tuple[int, int], platforms: list[str], fits: bool
) -> None:
    assert wheel_fits(parse_tag(tag), python, platforms) is fits


def test_supported_tags__never_falls_back_to_this_machines_platforms() -> None:
    assert {t.platform for t in supported_tags((3, 12), [])} == set()
    assert {t.platform for t in supported_tags((3, 12), ["any"])} == {"any"}


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        ("cp311-cp311-manylinux_2_28_x86_64", "cp311-cp311-manylinux_2_17_x86_64"),
        ("cp311-cp311-manylinux_2_17_x86_64", "cp311-abi3-manylinux_2_28_x86_64"),
        ("cp311-abi3-manylinux_2_17_x86_64", "cp310-abi3-manylinux_2_28_x86_64"),
        ("cp310-abi3-manylinux_2_17_x86_64", "py3-none-any"),
    ],
)
def test_rank__orders_as_pip_prefers(better: str, worse: str) -> None:
    supported = supported_tags((3, 11), LINUX)
    best, other = rank(parse_tag(better), supported), rank(parse_tag(worse), supported)
    assert best is not None and other is not None and best < other


@pytest.mark.parametrize(
    ("tag", "fits"),
    [
        ("cp311-cp311-manylinux2014_x86_64", True),  # PEP 600 legacy alias of 2_17
        ("cp311-cp311-manylinux_2_5_x86_64", True),
        ("cp311-cp311-manylinux_2_28_x86_64", False),  # needs a newer glibc than 2.17
        ("cp311-cp311-linux_x86_64", True),
        ("py3-none-any", True),
        ("cp311-cp311-win_amd64", False),
    ],
)
def test_target__tags_are_the_shared_model(tag: str, fits: bool) -> None:
    target = Target("3.11", "manylinux_2_17_x86_64")
    assert (rank(parse_tag(tag), target.tags()) is not None) is fits
    assert target.tags()[0] == next(iter(parse_tag("cp311-cp311-manylinux_2_17_x86_64")))
