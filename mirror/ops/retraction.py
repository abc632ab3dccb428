"""Taking releases back: yank and unyank (PEP 592) any file, delete private files.

A yank is a local decision recorded in ``state/yanks/<project>.json`` (``blobpi.mirror.ops.yanks``)
before the page is re-rendered, so the sync worker re-applies it whenever it rebuilds a
mirrored page. The record holds only what blobpi itself decided, so unyank clears exactly
those yanks and never one that upstream states. Delete is for private files only (a mirrored
file comes back with the next sync; drop it from the allow-list instead) and removes the
files from the page before their blobs, so a page never links to a missing file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.errors import (
    BlobNotFound,
    ConfigError,
    InvalidName,
    OperationRefused,
    ProjectNotFound,
)
from blobpi.mirror.core.layout import file_blobs, tombstones_path, yanks_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.names import parse_distribution_filename, project_name
from blobpi.mirror.ops.yanks import Yanks, read_yanks
from blobpi.mirror.store.pages import read_project, update_project, update_root
from blobpi.mirror.store.protocol import BlobStore
from blobpi.mirror.store.records import change_record

__all__ = ["delete", "parse_release", "relabel", "select_files", "unyank", "yank"]


def parse_release(raw: str) -> tuple[NormalizedName, Version]:
    """``PROJECT==VERSION`` from the command line.

    >>> parse_release("My.Pkg==1.0")
    ('my-pkg', <Version('1.0')>)
    """
    name, sep, version = raw.partition("==")
    try:
        if not sep:
            raise InvalidVersion
        return project_name(name.strip()), Version(version.strip())
    except (InvalidName, InvalidVersion):
        raise ConfigError(f"{raw[:80]!r} is not PROJECT==VERSION: write e.g. mypkg==1.0") from None


def _version(filename: str) -> Version | None:
    try:
        return parse_distribution_filename(filename).version
    except InvalidName:
        return None


def _parsed(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def select_files(page: ProjectPage, version: Version, filename: str | None) -> list[File]:
    """The files of one release, or the one file of it named ``filename`` (pure)."""
    files = [f for f in page.files if _version(f.filename) == version]
    if filename is not None:
        files = [f for f in files if f.filename == filename]
    if not files:
        what = f"no file {filename!r}" if filename else "no files"
        raise ProjectNotFound(
            f"{page.name}=={version} has {what}: see the files on /simple/{page.name}/"
        )
    return files


def relabel(page: ProjectPage, before: Yanks, after: Yanks) -> ProjectPage:
    """The page with the local record ``before`` replaced by ``after`` (pure).

    A file whose yank is not the one ``before`` put there (upstream's own) is left alone.

    >>> page = ProjectPage(name="a", files=(File("a-1.tar.gz", "u", {}, yanked="old"),))
    >>> relabel(page, {"a-1.tar.gz": "old"}, {}).files[0].yanked
    False
    >>> relabel(page, {}, {}).files[0].yanked
    'old'
    """

    def label(f: File) -> File:
        ours = f.filename in before and f.yanked == (before[f.filename] or True)
        if f.yanked is not False and not ours:
            return f
        return dataclasses.replace(
            f, yanked=(after[f.filename] or True) if f.filename in after else False
        )

    return dataclasses.replace(page, files=tuple(label(f) for f in page.files))


async def _page(store: BlobStore, name: NormalizedName) -> ProjectPage:
    page = await read_project(store, name)
    if page is None:
        raise ProjectNotFound(f"no project {name!r} in {store.description}: check the name")
    return page


async def _apply(store: BlobStore, name: NormalizedName, before: Yanks, after: Yanks) -> None:
    await update_project(store, name, lambda p: relabel(p, before, after) if p else None)


async def yank(
    store: BlobStore, name: NormalizedName, version: Version, filename: str | None, reason: str
) -> list[str]:
    """Yank a release (or one file of it) with ``reason``; the filenames yanked."""
    if not reason.strip():
        raise OperationRefused("a yank needs a reason (PEP 592): pass --reason 'why'")
    names = [f.filename for f in select_files(await _page(store, name), version, filename)]
    before, after = await change_record(
        store, yanks_path(name), lambda r: {**r, **dict.fromkeys(names, reason.strip())}
    )
    await _apply(store, name, before, after)
    return names


async def unyank(
    store: BlobStore, name: NormalizedName, version: Version, filename: str | None
) -> list[str]:
    """Undo blobpi's own yanks of a release; upstream's yanks stay. The filenames cleared."""
    files = select_files(await _page(store, name), version, filename)
    record, _ = await read_yanks(store, name)
    names = [f.filename for f in files if f.filename in record]
    if not names:
        upstream = any(f.yanked is not False for f in files)
        raise OperationRefused(
            f"{name}=={version} has no yank of blobpi's own to undo"
            + (": upstream yanked it, and upstream's yanks are kept" if upstream else "")
        )
    before, after = await change_record(
        store, yanks_path(name), lambda r: {k: v for k, v in r.items() if k not in names}
    )
    await _apply(store, name, before, after)
    return names


async def _check_private(store: BlobStore, page: ProjectPage, files: list[File]) -> None:
    for f in files:
        origin: str | None = page.origin
        if f.blob_path is not None:
            try:
                origin = (await store.head(f.blob_path)).metadata.get("origin")
            except BlobNotFound:
                pass
        if origin != "private":
            raise OperationRefused(
                f"{f.filename!r} is mirrored, and delete removes private files only: drop "
                f"the release from the allow-list (the sync prunes it), or yank it"
            )


def _without(page: ProjectPage | None, gone: set[str], version: Version) -> ProjectPage | None:
    if page is None:
        return None
    files = [f for f in page.files if f.filename not in gone]
    if not files and page.origin == "private":
        return None  # the last private file: the name is free again
    left = {_version(f.filename) for f in files}
    # PEP 700 lists versions without files too; a private one existed only through its files.
    versions = [
        v
        for v in page.versions
        if page.origin != "private" or _parsed(v) != version or version in left
    ]
    return dataclasses.replace(page, files=tuple(files), versions=tuple(versions))


async def delete(
    store: BlobStore,
    name: NormalizedName,
    version: Version,
    filename: str | None,
    confirm: Callable[[list[File]], Awaitable[bool]],
) -> list[File]:
    """Delete private files of a release after ``confirm``; the files deleted."""
    page = await _page(store, name)
    files = select_files(page, version, filename)
    await _check_private(store, page, files)
    if not await confirm(files):
        return []
    gone = {f.filename for f in files}
    # Tombstones first: even if the run stops here, these filenames are never reused.
    await change_record(
        store, tombstones_path(name), lambda r: {**r, **{f.filename: f.sha256 or "" for f in files}}
    )
    if await update_project(store, name, lambda p: _without(p, gone, version)) is None:
        await update_root(store, lambda ps: ProjectList.of(p for p in ps.projects if p != name))
    await change_record(
        store, yanks_path(name), lambda r: {k: v for k, v in r.items() if k not in gone}
    )
    for path in (f.blob_path for f in files):  # only now: the page no longer links to them
        for blob in file_blobs(path) if path else ():
            try:
                await store.delete(blob)
            except BlobNotFound:
                pass
    return files
