"""What a sync run reports: the JSON report (in ``state/`` and ``--report FILE``), the
terminal progress display, and the count of writes it made to the store."""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, TextIO

from blobpi.mirror.store.protocol import Blob, BlobInfo, BlobStore, Data, SigningAccess

__all__ = ["CountingStore", "Progress", "Report"]


@dataclasses.dataclass(slots=True)
class Report:
    """What one run did. ``ok`` is True only when the container matches the allow-list."""

    shard: str = "1/1"
    dry_run: bool = False
    upstream: str = ""  # without credentials
    projects: int = 0
    unchanged: int = 0  # projects checked and found in sync: nothing about them was written
    added: list[str] = dataclasses.field(default_factory=list)  # blob paths
    skipped: int = 0  # upstream files the filters left out
    skipped_by: dict[str, int] = dataclasses.field(default_factory=dict)  # filter -> files
    pruned: list[str] = dataclasses.field(default_factory=list)  # files taken off pages
    deleted: list[str] = dataclasses.field(default_factory=list)  # blobs deleted after grace
    removed_projects: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)  # upstream yanks, deletions
    private: list[str] = dataclasses.field(default_factory=list)  # lines naming private projects
    # files the curation gate took off the pages at once (malware, a quarantined project)
    takedowns: list[str] = dataclasses.field(default_factory=list)
    plan: dict[str, Any] = dataclasses.field(default_factory=dict)  # --dry-run only
    unreachable: int = 0  # projects whose page failed because the upstream could not be reached
    foreign: dict[str, int] = dataclasses.field(default_factory=dict)  # origin -> files refused
    bytes: int = 0
    requests: int = 0
    writes: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.private

    def outdates(self, stored: Mapping[str, Any] | None) -> bool:
        """Whether this run's report must replace ``stored`` (the last one written): it wrote
        or failed, or it tells another outcome (an old failure now fixed, other notes). A
        steady-state no-op outdates nothing, so it writes nothing."""
        if self.writes or self.failed or self.private or self.takedowns or stored is None:
            return True
        outcome = {
            "ok": self.ok,
            "failed": [],
            "private": [],
            "notes": sorted(self.notes),
            "takedowns": [],
        }
        return any(stored.get(key) != value for key, value in outcome.items())

    def scrub(self, clean: Callable[[str], str]) -> None:
        """Pass every message through ``clean`` (``Origins.scrub``): a report is stored in
        the container and printed, so no credential may reach it whatever a library said."""
        for messages in (self.failed, self.notes, self.private):
            messages[:] = [clean(m) for m in messages]
        for summary in self.plan.values():
            summary["errors"] = [clean(m) for m in summary.get("errors", [])]

    def to_json(self) -> builtins.bytes:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        if not self.dry_run:
            del data["plan"]
        return json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"

    def _skipped(self) -> str:
        """``3 skipped (2 platform-tags, 1 sdists)``: how many, and which filter left them."""
        why = ", ".join(f"{n} {k}" for k, n in sorted(self.skipped_by.items(), key=lambda i: -i[1]))
        return f"{self.skipped} skipped" + (f" ({why})" if why else "")

    def summary(self) -> str:
        if self.dry_run:  # what a real run would do: it added, pruned and deleted nothing
            fetch = sum(len(p["fetch"]) for p in self.plan.values())
            drop = sum(len(p["drop"]) for p in self.plan.values())
            sizes = [p.get("bytes") for p in self.plan.values()]
            size = "size unknown" if None in sizes else f"{self.bytes / 1e6:.1f} MB"
            done = (
                f"{fetch} files to add ({size}), {self._skipped()}, "
                f"{drop} to prune, {len(self.removed_projects)} projects to remove"
            )
        else:
            done = (
                f"{len(self.added)} files added ({self.bytes / 1e6:.1f} MB), {self._skipped()}, "
                f"{len(self.pruned)} pruned, {len(self.deleted)} deleted, "
                f"{len(self.removed_projects)} projects removed"
            )
        source = f" from {self.upstream}" if self.upstream else ""
        return (
            f"{self.projects} projects{source} ({self.unchanged} unchanged), {done}, "
            f"{len(self.failed)} failed; {self.requests} upstream requests, {self.writes} "
            f"writes, {self.seconds:.1f}s"
        )


class Progress:
    """A rich progress display on a terminal (files, bytes, rate, time); nothing otherwise,
    so logs and CI output stay clean. rich is imported only when there is a terminal."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.files = 0
        self.bytes = 0
        self._bar: Any = None
        self._task: Any = None

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        self.files += files
        self.bytes += nbytes
        if not self.enabled:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                DownloadColumn,
                TextColumn,
                TimeElapsedColumn,
                TransferSpeedColumn,
            )
            from rich.progress import (
                Progress as Bar,
            )

            self._bar = Bar(
                TextColumn("{task.description}"),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
            )
            self._task = self._bar.add_task("0 files", total=None)
            self._bar.start()
        label = f"{self.files} file{'s' * (self.files != 1)}"
        self._bar.update(self._task, completed=self.bytes, description=label)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()  # the final figures stay on screen
            self._bar = None


class CountingStore:
    """A ``BlobStore`` that counts the writes (puts and deletes) made through it, so the
    report's ``writes`` is measured, not estimated, and a no-op run can prove it wrote nothing."""

    def __init__(self, store: BlobStore) -> None:
        self.inner = store
        self.writes = 0

    @property
    def description(self) -> str:
        return self.inner.description

    async def ensure(self, *, create: bool = True) -> None:
        await self.inner.ensure(create=create)

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

    def leftovers(self, older_than: float) -> AsyncIterator[str]:
        return self.inner.leftovers(older_than)

    def lease(self, path: str, *, wait: float) -> contextlib.AbstractAsyncContextManager[None]:
        return self.inner.lease(path, wait=wait)

    def signing(self) -> SigningAccess | None:
        return self.inner.signing()

    def local_file(self, path: str) -> str | None:
        return self.inner.local_file(path)

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> CountingStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
