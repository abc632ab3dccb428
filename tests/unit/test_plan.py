"""``blobpi.sync.core.plan``: which upstream files each allow-list line mirrors, keeps and drops."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib

import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.core.settings import Filters, SyncConfig
from blobpi.sync.core.allowlist import parse_allowlist
from blobpi.sync.core.plan import (
    page_without_files,
    plan_deletes,
    plan_project,
    removal_refused,
    removed_projects,
    shard_of,
)

DEMO = canonicalize_name("demo")
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
FILTERS = Filters(python_versions=("3.10", "3.12"))


def _file(filename: str, requires_python: str | None = None) -> File:
    digest = hashlib.sha256(filename.encode()).hexdigest()
    base = File(
        filename=filename,
        url=f"https://up/packages/aa/bb/{'c' * 60}/{filename}",
        hashes={"sha256": digest},
        upload_time=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        size=1000,
    )
    return dataclasses.replace(base, requires_python=requires_python)


UPSTREAM = [
    _file("demo-1.0-py3-none-any.whl"),
    _file("demo-1.0.tar.gz"),
    _file("demo-2.0-cp310-cp310-manylinux_2_17_x86_64.whl"),
    _file("demo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
    _file("demo-2.0-cp312-abi3-manylinux_2_28_x86_64.whl"),
    _file("demo-2.0-cp310-cp310-win_amd64.whl"),
    _file("demo-2.0-cp310-cp310-macosx_11_0_arm64.whl"),
    _file("demo-2.0.tar.gz"),
    _file("demo-3.0b1-py3-none-any.whl"),
    _file("demo-0.9-py2-none-any.whl"),
    _file("demo-0.8-py3-none-any.whl", requires_python=">=3.13"),
]


def _fetched(line: str, filters: Filters = FILTERS, current: list[File] | None = None) -> list[str]:
    plan = plan_project(DEMO, parse_allowlist(line), UPSTREAM, current or [], filters, NOW)
    return [w.upstream.filename for w in plan.fetch]


@pytest.mark.parametrize(
    ("line", "filters", "expected"),
    [
        (
            "demo==2.0",
            FILTERS,
            [
                "demo-2.0-cp310-cp310-manylinux_2_17_x86_64.whl",
                "demo-2.0-cp312-abi3-manylinux_2_28_x86_64.whl",
                "demo-2.0.tar.gz",
            ],
        ),
        (
            "demo==2.0",
            dataclasses.replace(FILTERS, sdists=False),
            [
                "demo-2.0-cp310-cp310-manylinux_2_17_x86_64.whl",
                "demo-2.0-cp312-abi3-manylinux_2_28_x86_64.whl",
            ],
        ),
        (
            "demo==2.0",
            dataclasses.replace(FILTERS, platform_tags=("win_amd64",)),
            ["demo-2.0-cp310-cp310-win_amd64.whl", "demo-2.0.tar.gz"],
        ),
        ("demo<2", FILTERS, ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]),
        ("demo>=3.0b1", FILTERS, ["demo-3.0b1-py3-none-any.whl"]),  # the line names a pre
        ("demo>2", FILTERS, []),
        ("demo>2", dataclasses.replace(FILTERS, prereleases=True), ["demo-3.0b1-py3-none-any.whl"]),
        (
            "demo",
            dataclasses.replace(FILTERS, latest=1, sdists=False),
            [
                "demo-2.0-cp310-cp310-manylinux_2_17_x86_64.whl",
                "demo-2.0-cp312-abi3-manylinux_2_28_x86_64.whl",
            ],
        ),
        ("demo<2", dataclasses.replace(FILTERS, max_file_size=999), []),
        ("demo<2", dataclasses.replace(FILTERS, min_age_hours=24 * 365), []),
    ],
)
def test_plan_project__filters_choose_files(
    line: str, filters: Filters, expected: list[str]
) -> None:
    assert _fetched(line, filters) == expected


def test_plan_project__hashed_line_takes_exactly_its_files() -> None:
    wheel, sdist = UPSTREAM[0], UPSTREAM[1]
    line = f"demo==1.0 --hash=sha256:{wheel.sha256}"
    assert _fetched(line) == [wheel.filename]
    plan = plan_project(
        DEMO,
        parse_allowlist(line + f" --hash=sha256:{'f' * 64}"),
        UPSTREAM,
        [],
        FILTERS,
        NOW,
    )
    assert [w.upstream.filename for w in plan.fetch] == [wheel.filename]
    assert plan.errors and "offers no file with sha256 " + "f" * 64 in plan.errors[0]
    assert sdist.filename not in _fetched(line)


def test_plan_project__keeps_refreshes_and_drops_stored_files() -> None:
    stored = [
        File.stored(
            "packages/x/demo-1.0-py3-none-any.whl",
            filename="demo-1.0-py3-none-any.whl",
            hashes={"sha256": UPSTREAM[0].sha256 or ""},
        ),
        File.stored(
            "packages/x/demo-1.0.tar.gz",
            filename="demo-1.0.tar.gz",
            hashes={"sha256": UPSTREAM[1].sha256 or ""},
        ),
        File.stored(
            "packages/x/demo-0.5.tar.gz", filename="demo-0.5.tar.gz", hashes={"sha256": "e" * 64}
        ),
    ]
    upstream = [dataclasses.replace(UPSTREAM[0], yanked="bad"), *UPSTREAM[2:]]
    plan = plan_project(
        DEMO,
        parse_allowlist("demo<2"),
        upstream,
        stored,
        dataclasses.replace(FILTERS, sdists=False),
        NOW,
    )
    assert plan.fetch == ()
    kept = {f.filename: f for f in plan.keep}
    assert kept["demo-1.0-py3-none-any.whl"].yanked == "bad"
    assert kept["demo-1.0-py3-none-any.whl"].url.startswith("../../packages/")
    assert "demo-0.5.tar.gz" in kept  # deleted upstream, still allowed: kept
    assert [f.filename for f in plan.drop] == []
    assert any("yanked upstream" in n for n in plan.notes)
    assert any("deleted upstream" in n for n in plan.notes)
    plan = plan_project(DEMO, parse_allowlist("demo>=2"), upstream, stored, FILTERS, NOW)
    assert sorted(f.filename for f in plan.drop) == sorted(f.filename for f in stored)


def test_plan_project__changed_upstream_content_is_an_error() -> None:
    stored = [
        File.stored(
            "packages/x/demo-1.0.tar.gz", filename="demo-1.0.tar.gz", hashes={"sha256": "e" * 64}
        )
    ]
    plan = plan_project(DEMO, parse_allowlist("demo<2"), UPSTREAM, stored, FILTERS, NOW)
    assert plan.errors and "different content" in plan.errors[0]
    assert [f.filename for f in plan.keep] == ["demo-1.0.tar.gz"]


def test_shard_of__stable_and_spread() -> None:
    names = [f"project-{i}" for i in range(400)]
    shards = [shard_of(n, 4) for n in names]
    assert all(60 < shards.count(s) < 140 for s in range(1, 5))
    # Pinned values, not a second call in this process: every machine and every Python run
    # (PYTHONHASHSEED differs per process) must put a project in the same shard, which a
    # per-process hash() would pass a same-process comparison yet fail here.
    assert shards[:16] == [4, 2, 2, 2, 1, 3, 2, 4, 4, 1, 1, 1, 2, 4, 2, 4]


def test_plan_deletes__after_grace_only() -> None:
    pending = {"a": "2024-05-20T00:00:00+00:00", "b": "2024-05-31T00:00:00+00:00"}
    deletes = plan_deletes(pending, [], [], NOW, dt.timedelta(days=7))
    assert deletes.due == ("a",) and deletes.pending == {"b": pending["b"]}


def test_plan_project__hashed_line_whose_files_all_fail_the_filters_is_an_error() -> None:
    sdist = UPSTREAM[1]
    line = f"demo==1.0 --hash=sha256:{sdist.sha256}"
    plan = plan_project(
        DEMO, parse_allowlist(line), UPSTREAM, [], dataclasses.replace(FILTERS, sdists=False), NOW
    )
    assert plan.fetch == () and "none of its files passes the [sync] filters" in plan.errors[0]


def test_removed_projects__only_those_no_longer_named() -> None:
    assert removed_projects(["gamma", "alpha", "beta"], ["beta", "delta"]) == ("alpha", "gamma")
    assert removed_projects(["alpha"], ["alpha"]) == ()
    assert removed_projects([], ["alpha"]) == ()


@pytest.mark.parametrize(
    ("page", "expected_gone"),
    [
        (ProjectPage(name=DEMO, origin="mirror"), True),
        (ProjectPage(name=DEMO, origin="private"), False),
        (ProjectPage(name=DEMO), False),
    ],
)
def test_page_without_files__removes_mirrored_pages_only(
    page: ProjectPage, expected_gone: bool
) -> None:
    assert page_without_files(page) is (None if expected_gone else page)
    assert page_without_files(None) is None


def _stored(filename: str) -> File:
    return File.stored(f"packages/aa/bb/cc/{filename}", filename=filename, hashes={})


def test_plan_deletes__pruned_files_start_their_grace_period() -> None:
    earlier = {"packages/aa/bb/cc/demo-0.9.tar.gz": "2024-05-30T00:00:00+00:00"}
    pruned = [_stored("demo-0.9.tar.gz"), _stored("demo-1.0.tar.gz"), _file("demo-2.0.tar.gz")]
    deletes = plan_deletes(earlier, pruned, [], NOW, dt.timedelta(days=7))
    assert deletes.due == ()
    assert deletes.pending == {  # the first time is kept; an upstream URL is no blob of ours
        "packages/aa/bb/cc/demo-0.9.tar.gz": "2024-05-30T00:00:00+00:00",
        "packages/aa/bb/cc/demo-1.0.tar.gz": NOW.isoformat(),
    }
    assert earlier == {"packages/aa/bb/cc/demo-0.9.tar.gz": "2024-05-30T00:00:00+00:00"}


def test_plan_deletes__no_grace_deletes_this_runs_prunes_at_once() -> None:
    deletes = plan_deletes({}, [_stored("demo-1.0.tar.gz")], [], NOW, dt.timedelta(0))
    assert deletes.due == ("packages/aa/bb/cc/demo-1.0.tar.gz",) and deletes.pending == {}


def test_plan_deletes__a_file_linked_again_is_no_longer_pending() -> None:
    back, gone = _stored("demo-1.0.tar.gz"), _stored("demo-0.9.tar.gz")
    long_ago = "2024-01-01T00:00:00+00:00"
    pending = {str(back.blob_path): long_ago, str(gone.blob_path): long_ago}
    deletes = plan_deletes(pending, [], [back], NOW, dt.timedelta(days=7))
    assert deletes.due == (gone.blob_path,) and deletes.pending == {}


def _demo(filename: str) -> File:
    return next(f for f in UPSTREAM if f.filename == filename)


def test_plan_project__blocked_version_is_not_fetched_and_its_pin_is_an_error() -> None:
    wheel = _demo("demo-1.0-py3-none-any.whl")
    lines = parse_allowlist(f"demo==1.0 --hash=sha256:{wheel.sha256}")
    plan = plan_project(DEMO, lines, UPSTREAM, [], FILTERS, NOW, blocked={"1.0": "GHSA-x"})
    assert plan.fetch == () and plan.errors == ("'demo==1.0' is kept out: GHSA-x",)


def test_plan_project__a_ranged_line_skips_blocked_versions_with_a_note() -> None:
    plan = plan_project(
        DEMO, parse_allowlist("demo<3"), UPSTREAM, [], FILTERS, NOW, blocked={"2.0": "GHSA-x"}
    )
    assert {w.upstream.filename for w in plan.fetch} == {
        "demo-1.0-py3-none-any.whl",
        "demo-1.0.tar.gz",
    }
    assert not plan.errors and any("GHSA-x" in n for n in plan.notes)


def test_plan_project__takedown_drops_stored_files_at_once() -> None:
    stored = _demo("demo-1.0-py3-none-any.whl")
    upstream = [f for f in UPSTREAM if f != stored]  # upstream deleted it as well
    lines = parse_allowlist(f"demo==1.0 --hash=sha256:{stored.sha256}")
    plan = plan_project(DEMO, lines, upstream, [stored], FILTERS, NOW, takedown={"1.0": "MAL-1"})
    assert plan.drop == (stored,) and plan.keep == () and plan.fetch == ()
    assert plan.takedowns == ("'demo-1.0-py3-none-any.whl' taken down (deleted upstream): MAL-1",)
    # without the takedown, a file deleted upstream stays while its line names it
    kept = plan_project(DEMO, lines, upstream, [stored], FILTERS, NOW)
    assert kept.keep == (stored,) and kept.drop == ()


def test_plan_project__urgent_line_passes_the_cool_down() -> None:
    cool = dataclasses.replace(FILTERS, min_age_hours=24 * 365)
    assert _fetched("demo==2.0", cool) == []
    urgent = _fetched("demo==2.0  # blobpi: urgent: fixes CVE-2025-1", cool)
    assert "demo-2.0.tar.gz" in urgent


@pytest.mark.parametrize(
    "twin",
    [
        "Demo-1.0-py3-none-any.whl",  # another spelling of the name
        "demo-1.0.0-py3-none-any.whl",  # another spelling of the version
        "demo-1.0-1-py3-none-any.whl",  # a build tag
        "demo-1.0-py2.py3-none-any.whl",  # overlapping tags
    ],
)
def test_plan_project__one_file_per_distribution_identity(twin: str) -> None:
    stored = [dataclasses.replace(UPSTREAM[0], url="../../packages/x/demo-1.0-py3-none-any.whl")]
    upstream = [*UPSTREAM, _file(twin)]
    plan = plan_project(DEMO, parse_allowlist("demo==1.0"), upstream, stored, FILTERS, NOW)
    assert twin not in [w.upstream.filename for w in plan.fetch]
    assert any("same distribution as 'demo-1.0-py3-none-any.whl'" in n for n in plan.notes)
    fresh = plan_project(DEMO, parse_allowlist("demo==1.0"), upstream, [], FILTERS, NOW)
    fetched = [w.upstream.filename for w in fresh.fetch]
    assert len([f for f in fetched if f.endswith(".whl")]) == 1  # the first by name, not both


def test_plan_project__a_page_lists_only_its_own_files() -> None:
    planted = [*UPSTREAM, _file("other-1.0-py3-none-any.whl")]
    plan = plan_project(DEMO, parse_allowlist("demo==1.0"), planted, [], FILTERS, NOW)
    assert "other-1.0-py3-none-any.whl" not in [w.upstream.filename for w in plan.fetch]
    assert any("not a file of 'demo'" in n for n in plan.notes)


@pytest.mark.parametrize(
    ("removed", "synced", "share", "refused"),
    [
        (0, 0, 0.25, False),
        (1, 1, 0.25, False),
        (1, 3, 0.0, False),
        (2, 3, 0.25, True),
        (2, 8, 0.25, False),
        (3, 8, 0.25, True),
        (29, 29, 0.25, True),
        (29, 29, 1.0, False),
    ],
)
def test_removal_refused__past_the_share(
    removed: int, synced: int, share: float, refused: bool
) -> None:
    why = removal_refused(removed, synced, SyncConfig(max_removal_share=share))
    assert (why is not None) is refused
    assert why is None or "--allow-mass-removal" in why
