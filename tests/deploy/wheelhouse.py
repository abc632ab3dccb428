"""A wheelhouse of blobpi's runtime dependencies, made offline from the distributions already
installed in the test venv, so that ``pip install --no-index --find-links`` can install blobpi
the way the Dockerfile's final stage does without the tests reaching a package index.

Each installed distribution is packed back into a wheel (PEP 427): its files as its ``RECORD``
lists them, its tag from ``WHEEL``. Scripts outside site-packages are left out: the installer
writes them again from ``entry_points.txt``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

__all__ = ["dependency_closure", "repack"]

_SKIP = {"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"}


def dependency_closure(name: str) -> list[md.Distribution]:
    """The installed distributions ``name`` needs at run time (no extras of its own)."""
    seen: dict[NormalizedName, md.Distribution] = {}
    todo: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
    while todo:
        project, extras = todo.pop()
        dist = md.distribution(project)
        key = canonicalize_name(dist.metadata["Name"])
        for raw in dist.requires or []:
            req = Requirement(raw)
            wanted = not req.marker or any(
                req.marker.evaluate({"extra": extra}) for extra in extras | {""}
            )
            if wanted and canonicalize_name(req.name) not in seen:
                todo.append((req.name, frozenset(req.extras)))
        if project != name:
            seen[key] = dist
    return list(seen.values())


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def repack(dist: md.Distribution, directory: Path) -> Path:
    """Write ``dist`` back as a wheel into ``directory``; returns its path."""
    files = [f for f in dist.files or [] if not str(f).startswith("..")]
    info = next(str(f).split("/")[0] for f in files if ".dist-info/" in str(f))
    tag = next(
        line.split(":", 1)[1].strip()
        for line in dist.read_text("WHEEL").splitlines()  # type: ignore[union-attr]
        if line.startswith("Tag:")
    )
    stem = info.removesuffix(".dist-info")
    target = directory / f"{stem}-{tag}.whl"
    record: list[str] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in _packable(files, info):
            data = Path(str(dist.locate_file(file))).read_bytes()
            wheel.writestr(str(file), data)
            record.append(_record_line(str(file), data))
        record.append(f"{info}/RECORD,,")
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return target


def _packable(files: Iterable[md.PackagePath], info: str) -> Iterable[md.PackagePath]:
    for file in files:
        path = str(file)
        if "__pycache__" in file.parts or path.endswith(".pyc"):
            continue
        if path.startswith(f"{info}/") and file.name in _SKIP:
            continue
        yield file
