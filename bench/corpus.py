"""The benchmark corpus: one blobpi store, the same files flat for pypiserver, and the
static tree nginx serves (the store itself, plus ``.gz`` twins for ``gzip_static``).

Pages: the root with ``--root-projects`` names, ``small`` (8 files), ``big5k`` (5,000 files,
about a numpy or botocore page) and ``big40k`` (40,000, the largest private projects
reported); a ``.metadata`` file and a 16 MiB wheel. Each project's newest file is a real wheel
with its ``.metadata``, so pip and uv can resolve ``small big5k big40k`` from any server (a
server without PEP 658 metadata makes them download that wheel). Other file blobs hold one
byte: the pages and those files are what is measured.

The corpus is written straight into each tree a server reads (no upload through HTTP), once
per set of parameters: ``Corpus.at`` names its directory by a digest of the parameters and of
the code that writes it, so a later run reuses it and a change to either builds a new one.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name

from blobpi.mirror.core.layout import content_path, metadata_path, page_path
from blobpi.mirror.core.model import File, ProjectList, ProjectPage
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.store.local import LocalStore
from blobpi.mirror.store.pages import update_project, update_root
from blobpi.mirror.store.protocol import BlobStore
from tests.support.dists import build_wheel, metadata_text

__all__ = ["BIG_FILE", "PROJECTS", "Corpus", "build"]

PROJECTS = {"small": 8, "big5k": 5000, "big40k": 40000}
BIG_FILE = 16 * 2**20
_REPO = Path(__file__).resolve().parents[1]
# what decides the corpus's bytes: this module and the code that renders and stores pages
_WRITERS = ["bench/corpus.py", "tests/support/dists.py", "mirror/core/*.py", "mirror/store/*.py"]


class Corpus:
    @classmethod
    def at(cls, out: Path, root_projects: int) -> Corpus:
        """The corpus for these parameters under ``out``; other corpora there are removed
        (each is about 260 MB)."""
        key = hashlib.sha256(repr((root_projects, PROJECTS, BIG_FILE)).encode())
        for pattern in _WRITERS:
            for path in sorted(_REPO.glob(pattern)):
                key.update(path.read_bytes())
        root = out / f"corpus-{key.hexdigest()[:16]}"
        for stale in out.glob("corpus*"):
            if stale != root and stale.is_dir():
                shutil.rmtree(stale)
        return cls(root)

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
    shutil.rmtree(corpus.root, ignore_errors=True)  # a build that was cut short
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
        files[-1] = await _real_wheel(store, corpus, name, files[-1], now)
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


async def _real_wheel(
    store: LocalStore, corpus: Corpus, project: str, last: File, now: dt.datetime
) -> File:
    """The project's newest file as an installable wheel with its .metadata: what a
    resolve of the project fetches."""
    version = last.filename.split("-")[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = build_wheel(Path(tmp), project, version, requires_python=">=3.9").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    path = content_path(digest, last.filename)
    await store.put(path, data, metadata={"sha256": digest})
    (corpus.flat_dir / last.filename).write_bytes(data)
    metadata = metadata_text(project, version, requires_python=">=3.9")  # the wheel's own
    await store.put(metadata_path(path), metadata.encode())
    return File.stored(
        path,
        filename=last.filename,
        hashes={"sha256": digest},
        requires_python=">=3.9",
        size=len(data),
        upload_time=now,
        core_metadata={"sha256": hashlib.sha256(metadata.encode()).hexdigest()},
    )


def _paths(corpus: Corpus) -> None:
    digest = "f" * 64
    filename = _files("small", 1, dt.datetime.now(dt.UTC))[0].filename
    corpus.big_path = content_path(digest, filename)
    corpus.metadata_path = metadata_path(corpus.big_path)
