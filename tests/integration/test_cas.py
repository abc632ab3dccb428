"""The compare-and-swap helper on both stores: a real rival write in the race window."""

from __future__ import annotations

import hashlib
import json

import anyio
import pytest
from packaging.utils import canonicalize_name

from blobpi.mirror.core.errors import BlobNotFound, StorageUnavailable, WriteConflict
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.model import File, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.core.render import (
    project_html_from_json,
    render_project_html,
    render_project_json,
)
from blobpi.mirror.store.cas import SOURCE_DIGEST, Codec, compare_and_swap, read_with_etag
from blobpi.mirror.store.pages import mend_twins, read_project, update_project
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.records import change_record, read_record

pytestmark = pytest.mark.anyio

Counts = dict[str, int]
PATH = "state/cas-test.json"


def _load(data: bytes | None) -> Counts:
    return dict(json.loads(data)) if data is not None else {}


def _dump(value: Counts) -> bytes | None:
    return json.dumps(value, sort_keys=True).encode() if value else None


CODEC: Codec[Counts] = Codec(_load, _dump)


class Rival:
    """Another writer that changes the blob between our read and our write, ``times`` times."""

    def __init__(self, store: BlobStore, times: int) -> None:
        self.store, self.times, self.writes = store, times, 0

    async def __call__(self, _: Counts) -> None:
        if self.writes < self.times:
            self.writes += 1
            current, _etag = await read_with_etag(self.store, PATH, CODEC)
            await self.store.put(PATH, _dump({**current, f"rival{self.writes}": 1}) or b"{}")


async def test_cas__conflict_then_success_keeps_both_writes(store: BlobStore) -> None:
    await store.put(PATH, b'{"a": 1}')
    calls: list[Counts] = []

    def change(value: Counts) -> Counts:
        calls.append(dict(value))
        return {**value, "ours": 1}

    before, after = await compare_and_swap(
        store, PATH, CODEC, change, before_write=Rival(store, times=1)
    )
    assert calls == [{"a": 1}, {"a": 1, "rival1": 1}]
    assert before == {"a": 1, "rival1": 1}
    assert (
        after == (await read_with_etag(store, PATH, CODEC))[0] == {"a": 1, "rival1": 1, "ours": 1}
    )


async def test_cas__create_race_retries_on_the_rivals_blob(store: BlobStore) -> None:
    def change(value: Counts) -> Counts:
        return {**value, "ours": 1}

    await compare_and_swap(store, PATH, CODEC, change, before_write=Rival(store, times=1))
    assert (await read_with_etag(store, PATH, CODEC))[0] == {"rival1": 1, "ours": 1}


async def test_cas__delete_race_keeps_the_rivals_entry(store: BlobStore) -> None:
    await store.put(PATH, b'{"a": 1}')

    def drop_a(value: Counts) -> Counts:
        return {k: v for k, v in value.items() if k != "a"}

    _, after = await compare_and_swap(store, PATH, CODEC, drop_a, before_write=Rival(store, 1))
    assert after == (await read_with_etag(store, PATH, CODEC))[0] == {"rival1": 1}
    await compare_and_swap(store, PATH, CODEC, lambda value: {})
    assert await read_with_etag(store, PATH, CODEC) == ({}, None)


async def test_cas__gives_up_after_the_attempt_count(store: BlobStore) -> None:
    await store.put(PATH, b'{"a": 1}')
    calls: list[Counts] = []

    def change(value: Counts) -> Counts:
        calls.append(dict(value))
        return {**value, "ours": 1}

    rival = Rival(store, times=100)
    with pytest.raises(
        WriteConflict, match=r"'state/cas-test\.json' .* after 3 conflicting .*rerun"
    ):
        await compare_and_swap(store, PATH, CODEC, change, attempts=3, before_write=rival)
    assert len(calls) == rival.writes == 3
    stored = (await read_with_etag(store, PATH, CODEC))[0]
    assert "ours" not in stored and stored["rival3"] == 1
    assert issubclass(WriteConflict, StorageUnavailable)  # the server answers 503, retry later


async def test_cas__unchanged_value_writes_nothing(store: BlobStore) -> None:
    info = await store.put(PATH, b'{"a": 1}')
    before, after = await compare_and_swap(store, PATH, CODEC, lambda value: value)
    assert before == after == {"a": 1}
    assert (await store.head(PATH)).etag == info.etag


async def test_change_record__concurrent_writers_lose_nothing(store: BlobStore) -> None:
    async def add(key: str) -> None:
        await change_record(store, PATH, lambda record: {**record, key: True})

    async with anyio.create_task_group() as group:
        for i in range(8):
            group.start_soon(add, f"k{i}")
    record, _ = await read_record(store, PATH)
    assert record == {f"k{i}": True for i in range(8)}


async def test_update_project__concurrent_writers_leave_json_and_html_agreeing(
    store: BlobStore,
) -> None:
    name = canonicalize_name("demo")

    async def add(i: int) -> None:
        file = File(f"demo-{i}.0.tar.gz", f"../x/demo-{i}.0.tar.gz", {"sha256": f"{i:064x}"})

        def change(page: ProjectPage | None) -> ProjectPage:
            files = [*(page.files if page else ()), file]
            return ProjectPage.build(name, files, [f"{n}.0" for n in range(len(files))])

        await update_project(store, name, change)

    async with anyio.create_task_group() as group:
        for i in range(6):
            group.start_soon(add, i)
    page = await read_project(store, name)
    assert page is not None and len(page.files) == 6
    html = await store.get(page_path(name, Format.HTML))
    assert html is not None and html.data == render_project_html(page)


def _page(name: str, *versions: str) -> ProjectPage:
    files = [
        File(f"{name}-{v}.tar.gz", f"../x/{name}-{v}.tar.gz", {"sha256": f"{i:064x}"})
        for i, v in enumerate(versions)
    ]
    return ProjectPage.build(canonicalize_name(name), files, list(versions))


async def test_mend_twins__a_twin_left_behind_by_a_killed_writer_is_brought_in_step(
    store: BlobStore,
) -> None:
    """A writer killed between the record and its twin: the record moved on, the twin did
    not, and nothing else will change the project soon. One mending pass fixes exactly it."""
    await update_project(store, canonicalize_name("left"), lambda _: _page("left", "1.0"))
    await update_project(store, canonicalize_name("fine"), lambda _: _page("fine", "1.0"))
    newer = _page("left", "1.0", "2.0")
    await store.put(page_path(newer.name, Format.JSON), render_project_json(newer))  # the kill
    await store.put(
        page_path(canonicalize_name("born"), Format.JSON), render_project_json(_page("born", "1.0"))
    )  # killed before its first twin
    await store.put(page_path(canonicalize_name("gone"), Format.HTML), b"<a>orphan</a>")

    mended = await mend_twins(store)

    assert sorted(mended) == sorted(
        page_path(canonicalize_name(n), Format.HTML) for n in ("left", "born", "gone")
    )
    for name, page in (("left", newer), ("born", _page("born", "1.0"))):
        twin = await store.get(page_path(canonicalize_name(name), Format.HTML))
        assert twin is not None and twin.data == render_project_html(page)
    with pytest.raises(BlobNotFound):
        await store.head(page_path(canonicalize_name("gone"), Format.HTML))
    assert await mend_twins(store) == []  # fresh twins cost no write, and are not looked at


async def test_mend_twins__a_twin_from_before_etags_were_recorded_is_tagged_once(
    store: BlobStore,
) -> None:
    """A twin naming only its record's digest (an older blobpi) is re-tagged by the first
    pass, so later passes see it fresh from the listing alone."""
    name = canonicalize_name("old")
    record = render_project_json(_page("old", "1.0"))
    await store.put(page_path(name, Format.JSON), record)
    await store.put(
        page_path(name, Format.HTML),
        project_html_from_json(record),
        metadata={SOURCE_DIGEST: hashlib.sha256(record).hexdigest()},
    )
    assert await mend_twins(store) == [page_path(name, Format.HTML)]
    assert await mend_twins(store) == []


async def test_mend_twins__blobs_that_are_not_pages_are_left_alone(store: BlobStore) -> None:
    """A listing can hold anything someone put there: a page under a name that is not
    normalized (nothing serves it) or a stray file is neither mended nor removed."""
    strays = [
        "simple/Not_Normal/index.v1_html",
        "simple/demo/notes.txt",
        "simple/a/b/index.v1_html",
    ]
    for path in strays:
        await store.put(path, b"x")
    assert await mend_twins(store) == []
    for path in strays:
        assert (await store.head(path)).size == 1
