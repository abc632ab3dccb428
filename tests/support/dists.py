"""Build real, installable wheels and sdists in milliseconds, without a build backend.

A wheel is a zip with a ``.dist-info`` (METADATA, WHEEL, RECORD); an sdist is a tar.gz whose
``pyproject.toml`` names an in-tree PEP 517 backend with no requirements, so pip can build
it in an isolated environment from an index that holds nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import time
import zipfile
from pathlib import Path

from packaging.utils import canonicalize_name

_BACKEND = '''
"""A minimal in-tree PEP 517 backend: packs the module next to it into a wheel."""
import base64, hashlib, os, zipfile

def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("PKG-INFO", "rb") as f:
        metadata = f.read()
    fields = dict(
        line.split(": ", 1) for line in metadata.decode().splitlines() if ": " in line
    )
    dist = fields["Name"].replace("-", "_").replace(".", "_")
    version = fields["Version"]
    info = f"{dist}-{version}.dist-info"
    wheel = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = {f"{info}/METADATA": metadata, f"{info}/WHEEL": wheel}
    for name in os.listdir("src"):
        with open(os.path.join("src", name), "rb") as f:
            files[name] = f.read()
    filename = f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as z:
        lines = []
        for path, data in files.items():
            z.writestr(path, data)
            lines.append(_record_line(path, data))
        lines.append(f"{info}/RECORD,,")
        z.writestr(f"{info}/RECORD", "\\n".join(lines) + "\\n")
    return filename

def get_requires_for_build_wheel(config_settings=None):
    return []
'''


def metadata_text(
    name: str,
    version: str,
    requires: list[str] | None = None,
    requires_python: str | None = None,
    summary: str = "a package built by the tests",
) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires or []]
    return "\n".join(lines) + "\n"


def _module(name: str) -> str:
    return canonicalize_name(name).replace("-", "_")


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: list[str] | None = None,
    requires_python: str | None = None,
    tag: str = "py3-none-any",
    payload_bytes: int = 0,
    metadata: str | None = None,
) -> Path:
    """A valid wheel whose module ``<name>`` defines ``VERSION``; ``payload_bytes`` pads it
    with incompressible data for size tests."""
    dist = _module(name)
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": (
            metadata or metadata_text(name, version, requires, requires_python)
        ).encode(),
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
    }
    if payload_bytes:
        files[f"{dist}/payload.bin"] = _random_bytes(payload_bytes, seed=f"{name}-{version}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        lines = []
        for member, data in files.items():
            archive.writestr(_zipinfo(member), data)
            lines.append(_record_line(member, data))
        lines.append(f"{info}/RECORD,,")
        archive.writestr(_zipinfo(f"{info}/RECORD"), "\n".join(lines) + "\n")
    return path


def build_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: list[str] | None = None,
    requires_python: str | None = None,
) -> Path:
    """A valid sdist that pip can build with build isolation and no index access."""
    dist = _module(name)
    top = f"{dist}-{version}"
    pkg_info = metadata_text(name, version, requires, requires_python).encode()
    files = {
        f"{top}/PKG-INFO": pkg_info,
        f"{top}/pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        f"{top}/backend.py": _BACKEND.encode(),
        f"{top}/src/{dist}.py": f"VERSION = {version!r}\nFROM_SDIST = True\n".encode(),
    }
    return write_sdist(directory, top, files)


def write_sdist(directory: Path, top: str, files: dict[str, bytes]) -> Path:
    """``DIRECTORY/TOP.tar.gz`` holding ``files`` (paths under ``TOP/``), dated now."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return path


def _zipinfo(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = 0o644 << 16
    return info


def _random_bytes(size: int, seed: str) -> bytes:
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])
