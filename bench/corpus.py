"""The benchmark corpus: one blobpi store, the same files flat for pypiserver, and the
static tree nginx serves (the store itself, plus ``.gz`` twins for ``gzip_static``).

Pages: the root with ``--root-projects`` names, ``small`` (8 files), ``big5k`` (5,000 files,
about a numpy or botocore page) and ``big40k`` (40,000, the largest private projects
reported); a ``.metadata`` file and a 16 MiB wheel. File blobs other than those two hold one
byte: the pages and the two files are what is measured.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
from pathlib import Path

from packaging.utils import canonicalize_name

from blobpi.mirror.core.layout import content_path, metadata_path, page_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.store.local import LocalStore
from blobpi.mirror.store.pages import update_project, update_root
from blobpi.mirror.store.protocol import BlobStore

__all__ = ["BIG_FILE", "PROJECTS", "Corpus", "build"]

PROJECTS = {"small": 8, "big5k": 5000, "big40k": 40000}
BIG_FILE = 16 * 2**20


class Corpus:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store_dir = root / "store"  # blobpi's LocalStore, and nginx's document root
        self.flat_dir = root / "flat"  # every filename as a file: what pypiserver lists
        self.big_path = ""  # blob path of the 16 MiB wheel
        self.metadata_path = ""

    @property
    def ready(self) -> Path:
        return self.root / ".ready"


def _files(project: str, count: int, now: dt.datetime) -> list[File]:
    module = project.replace("-", "_")
    files = []
    for i in range(count):
        version = f"{i // 100}.{i % 100}.0"
        filename = f"{module}-{version}-py3-none-any.whl"
        digest = hashlib.sha256(filename.encode()).hexdigest()
        files.append(
            File.stored(
                content_path(digest, filename),
                filename=filename,
                hashes={"sha256": digest},
                requires_python=">=3.9",
                size=1,
                upload_time=now,
                core_metadata={"sha256": digest},
            )
        )
    return files


async def _put_page(store: BlobStore, name: str, files: list[File]) -> None:
    versions = [f.filename.split("-")[1] for f in files]
    page = ProjectPage.build(canonicalize_name(name), files, versions, origin="private")
    await update_project(store, canonicalize_name(name), lambda _: page)


async def build(corpus: Corpus, root_projects: int) -> None:
    """Write the corpus once; a finished one (``.ready``) is reused."""
    if corpus.ready.exists():
        _paths(corpus)
        return
    store = LocalStore(corpus.store_dir)
    await store.ensure()
    corpus.flat_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for name, count in PROJECTS.items():
        files = _files(name, count, now)
        for file in files:
            (corpus.flat_dir / file.filename).write_bytes(b"x")
        if name == "small":
            files[0] = await _big_file(store, corpus, files[0], now)
        await _put_page(store, name, files)
    others = [canonicalize_name(f"project-{i:05d}") for i in range(root_projects - len(PROJECTS))]
    names = [*others, *(canonicalize_name(n) for n in PROJECTS)]
    await update_root(store, lambda _: ProjectList.of(names))
    pages = [None, *(canonicalize_name(n) for n in PROJECTS)]
    for path in [page_path(n, f) for n in pages for f in (Format.JSON, Format.HTML)]:
        plain = (corpus.store_dir / path).read_bytes()
        (corpus.store_dir / f"{path}.gz").write_bytes(gzip.compress(plain, 6, mtime=0))
    corpus.ready.write_text("")
    _paths(corpus)


async def _big_file(store: LocalStore, corpus: Corpus, first: File, now: dt.datetime) -> File:
    """The small project's first file, made 16 MiB of random bytes, with its .metadata."""
    path = content_path("f" * 64, first.filename)
    data = os.urandom(BIG_FILE)
    digest = hashlib.sha256(data).hexdigest()
    info = await store.put(path, data, metadata={"sha256": digest})
    (corpus.flat_dir / first.filename).write_bytes(data)
    metadata = b"Metadata-Version: 2.1\nName: small\nVersion: 0.0.0\n"
    await store.put(metadata_path(path), metadata)
    return File.stored(
        path,
        filename=first.filename,
        hashes={"sha256": digest},
        size=info.size,
        upload_time=now,
        core_metadata={"sha256": hashlib.sha256(metadata).hexdigest()},
    )


def _paths(corpus: Corpus) -> None:
    digest = "f" * 64
    filename = _files("small", 1, dt.datetime.now(dt.UTC))[0].filename
    corpus.big_path = content_path(digest, filename)
    corpus.metadata_path = metadata_path(corpus.big_path)
