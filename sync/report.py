"""What a sync run reports: the JSON report (in ``state/`` and ``--report FILE``), the
terminal progress line, and the count of writes it made to the store."""

from __future__ import annotations

import builtins
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any, TextIO

from mirror.storage import Blob, BlobInfo, BlobStore, Data

__all__ = ["CountingStore", "Progress", "Report"]


@dataclasses.dataclass(slots=True)
class Report:
    """What one run did. ``ok`` is True only when the container matches the allow-list."""

    shard: str = "1/1"
    dry_run: bool = False
    projects: int = 0
    unchanged: int = 0  # projects whose upstream page and lines had not changed
    added: list[str] = dataclasses.field(default_factory=list)  # blob paths
    skipped: int = 0  # upstream files the filters left out
    pruned: list[str] = dataclasses.field(default_factory=list)  # files taken off pages
    deleted: list[str] = dataclasses.field(default_factory=list)  # blobs deleted after grace
    removed_projects: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)  # upstream yanks, deletions
    private: list[str] = dataclasses.field(default_factory=list)  # lines naming private projects
    plan: dict[str, Any] = dataclasses.field(default_factory=dict)  # --dry-run only
    bytes: int = 0
    requests: int = 0
    writes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.private

    @property
    def changed(self) -> bool:
        return bool(self.writes or self.failed or self.private)

    def to_json(self) -> builtins.bytes:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        if not self.dry_run:
            del data["plan"]
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    def summary(self) -> str:
        return (
            f"{self.projects} projects ({self.unchanged} unchanged), {len(self.added)} files "
            f"added ({self.bytes / 1e6:.1f} MB), {self.skipped} skipped, {len(self.pruned)} "
            f"pruned, {len(self.deleted)} deleted, {len(self.failed)} failed; "
            f"{self.requests} upstream requests, {self.writes} writes, {self.seconds:.1f}s"
        )


class Progress:
    """One self-overwriting line on a terminal (files, bytes, rate); nothing otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.shown = 0.0
        self.files = 0
        self.bytes = 0

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        self.files += files
        self.bytes += nbytes
        now = time.monotonic()
        if self.enabled and now - self.shown > 0.2:
            self.shown = now
            rate = self.bytes / max(now - self.started, 1e-6) / 1e6
            self.stream.write(
                f"\r{self.files} files, {self.bytes / 1e6:.1f} MB, {rate:.1f} MB/s   "
            )
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.shown:
            self.shown = 0.0
            self.advance()  # the final count, then leave the line
            self.stream.write("\n")


class CountingStore:
    """A ``BlobStore`` that counts the writes (puts and deletes) made through it, so the
    report's ``writes`` is measured, not estimated, and a no-op run can prove it wrote nothing."""

    def __init__(self, store: BlobStore) -> None:
        self.inner = store
        self.writes = 0

    @property
    def description(self) -> str:
        return self.inner.description

    async def ensure(self) -> None:
        await self.inner.ensure()

    async def head(self, path: str) -> BlobInfo:
        return await self.inner.head(path)

    async def get(self, path: str, *, if_none_match: str | None = None) -> Blob | None:
        return await self.inner.get(path, if_none_match=if_none_match)

    async def open(
        self, path: str, *, start: int = 0, length: int | None = None
    ) -> tuple[BlobInfo, AsyncIterator[bytes]]:
        return await self.inner.open(path, start=start, length=length)

    async def put(self, path: str, data: Data, **options: Any) -> BlobInfo:
        info = await self.inner.put(path, data, **options)
        self.writes += 1
        return info

    def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        return self.inner.list(prefix)

    async def delete(self, path: str, *, if_match: str | None = None) -> None:
        await self.inner.delete(path, if_match=if_match)
        self.writes += 1

    async def close(self) -> None:
        await self.inner.close()
