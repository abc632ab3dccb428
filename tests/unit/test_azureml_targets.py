"""Choosing the mirrored file that fits an Azure ML image build's interpreter and platform."""

from __future__ import annotations

import pytest
from packaging.utils import canonicalize_name

from blobpi.deploy.core.requirements import parse_requirements
from blobpi.deploy.core.targets import Target, choose_wheel
from blobpi.mirror.core.errors import ConfigError, HashMismatch, MirrorError, NotInMirror
from blobpi.mirror.core.model import File, ProjectPage

SHA = {name: f"{i:064x}" for i, name in enumerate(["any", "abi3", "cp311", "cp312", "sdist"])}


def _page(*filenames: tuple[str, str]) -> ProjectPage:
    files = [
        File.stored(f"packages/aa/bb/{key}/{name}", filename=name, hashes={"sha256": SHA[key]})
        for key, name in filenames
    ]
    return ProjectPage.build(canonicalize_name("pkg"), files, ["1.0", "2.0"])


PAGE = _page(
    ("any", "pkg-2.0-py3-none-any.whl"),
    ("abi3", "pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    ("cp311", "pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
    ("cp312", "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"),
    ("sdist", "pkg-1.0.tar.gz"),
)


@pytest.mark.parametrize(
    ("python", "platform", "expected"),
    [
        ("3.11", "manylinux_2_35_x86_64", "pkg-1.0-cp311-cp311-manylinux_2_28_x86_64.whl"),
        ("3.12", "manylinux_2_35_x86_64", "pkg-1.0-cp312-cp312-manylinux_2_28_x86_64.whl"),
        # glibc 2.17 cannot load a manylinux_2_28 wheel: the abi3 2014 wheel is next best.
        (
            "3.11",
            "manylinux_2_17_x86_64",
            "pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ),
        (
            "3.13",
            "manylinux_2_35_x86_64",
            "pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ),
    ],
)
def test_choose_wheel__best_tag_for_target(python: str, platform: str, expected: str) -> None:
    req = parse_requirements("pkg==1.0")[0]
    assert choose_wheel(PAGE, req, Target(python, platform)).filename == expected


def test_choose_wheel__pure_python_wheel_fits_any_target() -> None:
    req = parse_requirements("PKG==2.0.0")[0]  # 2.0.0 == 2.0 by PEP 440
    assert choose_wheel(PAGE, req, Target("3.12", "manylinux_2_28_aarch64")).filename == (
        "pkg-2.0-py3-none-any.whl"
    )


@pytest.mark.parametrize(
    ("page", "line", "target", "error", "message"),
    [
        (None, "pkg==1.0", Target(), NotInMirror, "'pkg' (line 1) is not in the mirror"),
        (PAGE, "pkg==3.0", Target(), NotInMirror, "pkg 3.0 (line 1) is not in the mirror"),
        (
            PAGE,
            "pkg==1.0",
            Target("3.11", "win_amd64"),
            NotInMirror,
            "no wheel of pkg 1.0 fits CPython 3.11 on win_amd64 (the mirror has: ",
        ),
        (
            PAGE,
            f"pkg==2.0 --hash=sha256:{'f' * 64}",
            Target(),
            HashMismatch,
            "which line 1 does not allow",
        ),
    ],
)
def test_choose_wheel__errors(
    page: ProjectPage | None, line: str, target: Target, error: type[MirrorError], message: str
) -> None:
    with pytest.raises(error) as info:
        choose_wheel(page, parse_requirements(line)[0], target)
    assert message in str(info.value)


def test_choose_wheel__lock_hash_must_match() -> None:
    req = parse_requirements(f"pkg==2.0 --hash=sha256:{SHA['any']}")[0]
    assert choose_wheel(PAGE, req, Target()).sha256 == SHA["any"]


@pytest.mark.parametrize(
    ("python", "platform"), [("3", "manylinux_2_35_x86_64"), ("3.11", "../x"), ("py3.11", "any")]
)
def test_target__rejects_bad_input(python: str, platform: str) -> None:
    with pytest.raises(ConfigError):
        Target(python, platform)


def test_target__marker_environment_is_the_targets() -> None:
    env = Target("3.12", "manylinux_2_28_aarch64").marker_environment()
    assert (env["python_version"], env["sys_platform"], env["platform_machine"]) == (
        "3.12",
        "linux",
        "aarch64",
    )
