"""PEP 751 lock files (``pylock.toml``): read as the sync's lock, written by ``blobpi lock
--format pylock``, their URLs rewritten to the mirror's. Pure.

A lock names exact files: each ``[[packages]]`` entry has a ``name``, a ``version``, an
optional ``marker`` and ``requires-python``, and its files as ``sdist`` and ``wheels``
tables, each with a ``url`` and ``hashes`` (PEP 751). pip (``pip install -r pylock.toml``)
and uv install those URLs verbatim, so a lock that points at the upstream reaches the
internet, and one that points at the mirror does not. Only index files are accepted: the
mirror holds no ``vcs``, ``directory`` or ``archive`` sources, and every file needs a sha256,
the digest the mirror checks and serves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from blobpi.mirror.core.errors import ConfigError
from blobpi.sync.core.allowlist import Entry

__all__ = [
    "LockedFile",
    "LockedPackage",
    "entries_of",
    "is_pylock",
    "parse_pylock",
    "render_pylock",
    "rewrite_urls",
]

_NAME_RE = re.compile(r"^pylock\.([^.]+\.)?toml$")  # PEP 751's file name rule
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_SOURCES = ("vcs", "directory", "archive")


@dataclasses.dataclass(frozen=True, slots=True)
class LockedFile:
    """One ``[packages.sdist]`` or ``[[packages.wheels]]`` table."""

    filename: str  # PEP 751 ``name``, else the URL's last path segment
    url: str
    sha256: str
    size: int | None = None
    upload_time: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LockedPackage:
    name: NormalizedName
    version: str
    files: tuple[LockedFile, ...]
    marker: str | None = None  # PEP 508, unevaluated: the mirror serves every target
    requires_python: str | None = None
    index: str | None = None  # PEP 751 ``index``: the simple index the files came from


def is_pylock(filename: str) -> bool:
    """Whether a file name is a PEP 751 lock's.

    >>> [is_pylock(n) for n in ("pylock.toml", "pylock.gpu.toml", "allowlist.txt", "x.toml")]
    [True, True, False, False]
    """
    return bool(_NAME_RE.match(filename))


def _file(raw: Any, where: str) -> LockedFile:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table: regenerate the lock")
    url = raw.get("url")
    if not isinstance(url, str) or not url:
        got = "a path" if "path" in raw else "no url"
        raise ConfigError(
            f"{where} has {got}: the mirror serves index files by URL; lock from an index"
        )
    hashes = raw.get("hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256.lower()):
        raise ConfigError(
            f"{where} ({url[:80]!r}) has no sha256 hash: the mirror checks every file by "
            "sha256; regenerate the lock with hashes"
        )
    filename = raw.get("name") or unquote(urlsplit(url).path).rsplit("/", 1)[-1]
    when = raw.get("upload-time")
    size = raw.get("size")
    return LockedFile(
        filename=str(filename),
        url=url,
        sha256=sha256.lower(),
        size=size if isinstance(size, int) else None,
        upload_time=when if isinstance(when, dt.datetime) else None,
    )


def _package(raw: Any, number: int, source: str) -> LockedPackage:
    where = f"{source} [[packages]] #{number}"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ConfigError(f"{where} has no name: regenerate the lock")
    where = f"{source} package {raw['name']!r}"
    kinds = [k for k in _SOURCES if k in raw]
    if kinds:
        raise ConfigError(
            f"{where} is a {kinds[0]} source: the mirror holds index files only; lock a "
            "released version from the index instead"
        )
    version = raw.get("version")
    try:
        Version(str(version))
    except InvalidVersion:
        raise ConfigError(f"{where} has no valid version ({version!r}): pin one") from None
    files = []
    if "sdist" in raw:
        files.append(_file(raw["sdist"], f"{where} sdist"))
    wheels = raw.get("wheels", [])
    if not isinstance(wheels, list):
        raise ConfigError(f"{where} wheels is not an array of tables: regenerate the lock")
    files += [_file(w, f"{where} wheel #{i}") for i, w in enumerate(wheels, 1)]
    if not files:
        raise ConfigError(f"{where} lists no sdist or wheels: regenerate the lock")
    marker, requires = raw.get("marker"), raw.get("requires-python")
    return LockedPackage(
        name=canonicalize_name(raw["name"]),
        version=str(version),
        files=tuple(files),
        marker=marker if isinstance(marker, str) else None,
        requires_python=requires if isinstance(requires, str) else None,
        index=raw["index"] if isinstance(raw.get("index"), str) else None,
    )


def parse_pylock(text: str, source: str = "pylock.toml") -> list[LockedPackage]:
    """The packages of a PEP 751 lock; anything the mirror cannot serve is a ``ConfigError``.

    >>> lock = '''lock-version = "1.0"
    ... created-by = "pip"
    ... [[packages]]
    ... name = "Six"
    ... version = "1.17.0"
    ... [[packages.wheels]]
    ... url = "https://up.example/packages/six-1.17.0-py2.py3-none-any.whl"
    ... hashes = {sha256 = "''' + "ab" * 32 + '''"}
    ... '''
    >>> [(p.name, p.files[0].filename) for p in parse_pylock(lock)]
    [('six', 'six-1.17.0-py2.py3-none-any.whl')]
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source} is not valid TOML ({e}): regenerate the lock") from None
    version = raw.get("lock-version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        raise ConfigError(
            f"{source} has lock-version {version!r}; blobpi reads PEP 751 version 1.x: "
            "regenerate it with a current pip, uv or PDM"
        )
    packages = raw.get("packages")
    if not isinstance(packages, list) or not packages:
        raise ConfigError(f"{source} lists no packages: an empty lock would mirror nothing")
    return [_package(p, i, source) for i, p in enumerate(packages, 1)]


def entries_of(packages: Iterable[LockedPackage]) -> list[Entry]:
    """The sync's lines for a lock: each package pinned to its version, with the sha256 of
    each of its files as the only files that version may mirror."""
    return [
        Entry(
            name=p.name,
            specifier=SpecifierSet(f"=={p.version}"),
            hashes=frozenset(f.sha256 for f in p.files),
            marker=p.marker,
            text=f"{p.name}=={p.version}",
        )
        for p in packages
    ]


def _toml(value: object) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), datetimes in UTC.

    >>> _toml("a\\"b"), _toml(3), _toml(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    ('"a\\\\"b"', '3', '2024-01-02T03:04:05Z')
    """
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, bool | int):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def _file_table(file: LockedFile, header: str) -> list[str]:
    lines = [header, f"name = {_toml(file.filename)}", f"url = {_toml(file.url)}"]
    if file.size is not None:
        lines.append(f"size = {file.size}")
    if file.upload_time is not None:
        lines.append(f"upload-time = {_toml(file.upload_time)}")
    lines.append(f"hashes = {_toml({'sha256': file.sha256})}")
    return lines


def render_pylock(
    packages: Iterable[LockedPackage], *, header: Iterable[str] = (), created_by: str = "blobpi"
) -> str:
    """A PEP 751 lock, keys in the specification's order, packages and files sorted, so a
    relock changes only what changed; ``header`` lines become leading comments."""
    out = [f"# {line}".rstrip() for line in header]
    out += ['lock-version = "1.0"', f"created-by = {_toml(created_by)}"]
    for p in sorted(packages, key=lambda p: (p.name, Version(p.version), p.marker or "")):
        out += ["", "[[packages]]", f"name = {_toml(p.name)}", f"version = {_toml(p.version)}"]
        if p.marker:
            out.append(f"marker = {_toml(p.marker)}")
        if p.requires_python:
            out.append(f"requires-python = {_toml(p.requires_python)}")
        if p.index:
            out.append(f"index = {_toml(p.index)}")
        files = sorted(p.files, key=lambda f: f.filename)
        for sdist in (f for f in files if not f.filename.endswith(".whl")):
            out += _file_table(sdist, "[packages.sdist]")
            break  # PEP 751: one sdist per package entry
        for wheel in (f for f in files if f.filename.endswith(".whl")):
            out += _file_table(wheel, "[[packages.wheels]]")
    return "\n".join(out) + "\n"


def rewrite_urls(text: str, urls: Mapping[str, str], source: str = "pylock.toml") -> str:
    """``text`` with each TOML string equal to a key of ``urls`` replaced by its value, and
    nothing else changed (comments, order, ``[tool]`` tables stay as the locker wrote them).

    >>> rewrite_urls('url = "https://up/a.whl"\\n', {"https://up/a.whl": "https://me/a.whl"})
    'url = "https://me/a.whl"\\n'
    """
    for old, new in urls.items():
        pattern = re.compile("([\"'])" + re.escape(old) + r"\1")
        # escaped, so a backslash in the new value is not read as a group reference
        text, count = pattern.subn(_toml(new).replace("\\", "\\\\"), text)
        if count == 0 and old != new:
            raise ConfigError(
                f"{source}: cannot find {old[:80]!r} as a plain TOML string to rewrite: "
                "regenerate the lock with pip, uv or blobpi"
            )
    tomllib.loads(text)  # what is written must still be a lock
    return text
