"""Locks whose URLs point at the mirror: ``blobpi lock --format pylock`` and ``blobpi lock
rewrite``.

The blob layout keeps each upstream file's URL path (``layout.mirror_path``), so the mirror's
URL of a file is known before it is synced: the page link (``layout.file_link``) joined to
the mirror's index. ``rewrite`` reads the mirror's own pages (PEP 691, through the same
client, proxies and trust as the sync) and swaps a URL only for a file the mirror holds with
the same filename and sha256; anything else is refused, and nothing is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from urllib.parse import urljoin, urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from blobpi.mirror.core.errors import ConfigError, ProjectNotFound
from blobpi.mirror.core.layout import file_link, mirror_path
from blobpi.mirror.core.model import File
from blobpi.mirror.core.requirements import read_lines
from blobpi.mirror.core.settings import SyncConfig
from blobpi.mirror.store.protocol import redact_url
from blobpi.sync.core.lockfile import Pin
from blobpi.sync.core.pylock import (
    LockedFile,
    LockedPackage,
    is_pylock,
    parse_pylock,
    rewrite_urls,
)
from blobpi.sync.core.rewrite import hashes_of, rewrite_requirements
from blobpi.sync.io.network import client_for
from blobpi.sync.io.upstream import Upstream

__all__ = ["locked_packages", "mirror_url", "rewrite_lock"]


def _index(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--index-url {url[:80]!r} is not an http(s) URL: give the mirror's simple index, "
            "e.g. --index-url https://pkgs.example.org/simple/"
        )
    return url if url.endswith("/") else url + "/"


def _without_credentials(url: str) -> str:
    """A URL to write into a lock: never with the user name or token used to read it."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mirror_url(index_url: str, project: str, blob_path: str) -> str:
    """The mirror's URL of a blob, as its project page links it.

    >>> mirror_url("https://m/simple/", "six", "packages/ab/cd/six-1.0.tar.gz")
    'https://m/packages/ab/cd/six-1.0.tar.gz'
    """
    return urljoin(f"{_index(index_url)}{project}/", file_link(blob_path))


async def _pages(upstream: Upstream, names: Iterable[str]) -> dict[str, tuple[File, ...]]:
    pages: dict[str, tuple[File, ...]] = {}
    for name in sorted(set(names)):
        try:
            page = await upstream.project(name)
        except ProjectNotFound:
            pages[name] = ()
            continue
        assert page is not None  # no ETag was sent, so no 304
        pages[name] = page.files
    return pages


async def locked_packages(
    pins: Sequence[Pin], config: SyncConfig, index_url: str
) -> list[LockedPackage]:
    """PEP 751 packages for resolved pins: each pinned hash's file, with the URL it will have
    in the mirror once synced, and the upstream's size and upload time."""
    if _without_credentials(index_url) != index_url:
        raise ConfigError(
            "--index-url has credentials in it, which the lock would carry to every reader: "
            "drop them (installers take them from netrc or keyring)"
        )
    async with client_for(config) as client, Upstream(config.upstream, client=client) as up:
        pages = await _pages(up, (p.name for p in pins))
    packages = []
    for pin in pins:
        files = [f for f in pages[pin.name] if f.sha256 in pin.hashes]
        if {f.sha256 for f in files} != set(pin.hashes):
            raise ConfigError(
                f"the upstream {redact_url(config.upstream)} no longer lists every file "
                f"pinned for {pin.name} {pin.version}: relock"
            )
        locked = tuple(
            LockedFile(
                filename=f.filename,
                url=mirror_url(index_url, pin.name, mirror_path(f.url, f.filename, f.sha256 or "")),
                sha256=f.sha256 or "",
                size=f.size,
                upload_time=f.upload_time,
            )
            for f in files
        )
        marker = pin.marker
        packages.append(
            LockedPackage(
                canonicalize_name(pin.name), pin.version, locked, marker, index=_index(index_url)
            )
        )
    return packages


@dataclasses.dataclass(frozen=True, slots=True)
class _Wanted:
    project: str
    sha256: str
    filename: str | None  # None: a requirements hash, which names no file
    url: str | None  # the URL to swap, if the lock has one


def _wanted_pylock(text: str, source: str) -> tuple[list[_Wanted], set[str]]:
    packages = parse_pylock(text, source)
    wanted = [_Wanted(p.name, f.sha256, f.filename, f.url) for p in packages for f in p.files]
    return wanted, {p.index for p in packages if p.index}


def _wanted_requirements(text: str, source: str) -> list[_Wanted]:
    wanted = []
    for line in read_lines(text):
        if not line.requirement:
            continue  # option lines: rewrite_requirements replaces the index ones
        try:
            req = Requirement(line.requirement)
        except InvalidRequirement:
            raise ConfigError(
                f"{source}:{line.number}: {line.requirement[:80]!r} is not a requirement"
            ) from None
        hashes = hashes_of(line, req)
        if not hashes:
            raise ConfigError(
                f"{source}:{line.number}: {req.name!r} has no sha256 hash, so the mirror "
                "cannot prove it holds that file: lock with hashes (blobpi lock, "
                "pip-compile --generate-hashes)"
            )
        url = req.url.partition("#")[0] if req.url else None
        name = canonicalize_name(req.name)
        filename = url.rsplit("/", 1)[-1] if url else None
        wanted += [_Wanted(name, h, filename, req.url) for h in sorted(hashes)]
    if not wanted:
        raise ConfigError(f"{source} lists no requirements: give a hashed lock")
    return wanted


async def rewrite_lock(text: str, source: str, index_url: str, config: SyncConfig) -> str:
    """``text`` (a ``pylock.toml`` or a hashed requirements file) with the upstream's URLs
    replaced by the mirror's; a ``ConfigError`` if the mirror lacks any file it names."""
    index = _index(index_url)
    pylock = is_pylock(source)
    if pylock:
        wanted, indexes = _wanted_pylock(text, source)
    else:
        wanted, indexes = _wanted_requirements(text, source), set()
    # The mirror is read like an upstream: same client, proxies, trust and retries.
    async with client_for(config) as client, Upstream(index, client=client) as mirror:
        pages = await _pages(mirror, (w.project for w in wanted))
    urls: dict[str, str] = {}
    missing: list[str] = []
    for want in wanted:
        held = [f for f in pages[want.project] if f.sha256 == want.sha256]
        held = [f for f in held if want.filename in (None, f.filename)]
        if not held:
            missing.append(f"{want.filename or want.project} (sha256 {want.sha256[:16]}...)")
        elif want.url is not None:
            new = _without_credentials(held[0].url)
            urls[want.url] = new if pylock else f"{new}#sha256={want.sha256}"
    if missing:
        raise ConfigError(
            f"{len(missing)} file(s) of {source} are not in the mirror {redact_url(index)} "
            f"with the same sha256, first {missing[0]}: sync this lock into the mirror "
            f"(blobpi sync --allowlist {source}), then rewrite it; nothing was written"
        )
    public_index = _without_credentials(index)
    if pylock:
        urls.update({old: public_index for old in indexes})
        return rewrite_urls(text, urls, source)
    return rewrite_requirements(text, public_index, urls)
