"""The corpus's pages and its two measured files in an Azurite container, for the blobpi
rows on Azure's code path (``AzureStore``; the page cache must hide the storage latency)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
from packaging.utils import canonicalize_name

from bench.corpus import PROJECTS, Corpus
from blobpi.mirror.core.layout import page_path
from blobpi.mirror.core.negotiate import Format
from blobpi.mirror.store.protocol import open_store
from tests.support.processes import ROOT, Azurite

__all__ = ["corpus_on_azurite"]


async def _upload(corpus: Corpus, url: str, connection_string: str) -> None:
    async with open_store(url, connection_string) as store:
        await store.ensure()
        names = [None, *(canonicalize_name(n) for n in PROJECTS)]
        paths = [page_path(n, f) for n in names for f in (Format.JSON, Format.HTML)]
        for path in [*paths, corpus.metadata_path]:
            await store.put(path, (corpus.store_dir / path).read_bytes())
        local = open_store(str(corpus.store_dir))
        info, chunks = await local.open(corpus.big_path)
        await store.put(corpus.big_path, chunks, metadata=info.metadata)


@contextmanager
def corpus_on_azurite(corpus: Corpus, skip: bool) -> Iterator[tuple[str, str] | None]:
    """Yields (container URL, connection string), or None when skipped or not installed."""
    installed = (ROOT / ".tools/node_modules/.bin/azurite-blob").exists() or shutil.which(
        "azurite-blob"
    )
    if skip or not installed:
        if not skip:
            print("bench: Azurite is not installed (make azurite): its rows are skipped")
        yield None
        return
    with Azurite.start() as azurite:
        url = azurite.new_container_url()
        anyio.run(_upload, corpus, url, azurite.connection_string)
        yield url, azurite.connection_string
