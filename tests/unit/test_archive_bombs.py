"""Archive bombs (issue 10, defect 7): ``inspect_distribution`` refuses, within a fixed budget
of members, decompressed bytes and time, archives that cost far more to read than they
weigh, with a one-line ``UploadRejected`` (HTTP 400) naming the cause."""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile

import pytest

from blobpi.mirror.core import distribution
from blobpi.mirror.core.distribution import inspect_distribution
from blobpi.mirror.core.errors import UploadRejected
from tests.support.dists import metadata_text

PKG_INFO = metadata_text("bomb", "1.0").encode()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _sdist(*, empty_headers: int = 0, zeros: int = 0) -> io.BytesIO:
    """An sdist whose PKG-INFO comes after ``empty_headers`` members and ``zeros`` bytes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as archive:
        for i in range(empty_headers):
            archive.addfile(tarfile.TarInfo(f"bomb-1.0/e{i}"))
        if zeros:
            info = tarfile.TarInfo("bomb-1.0/zeros")
            info.size = zeros
            archive.addfile(info, _Zeros(zeros))
        info = tarfile.TarInfo("bomb-1.0/PKG-INFO")
        info.size = len(PKG_INFO)
        archive.addfile(info, io.BytesIO(PKG_INFO))
    out.seek(0)
    return out


def test_bombs__a_plain_sdist_passes() -> None:
    assert inspect_distribution("bomb-1.0.tar.gz", _sdist(empty_headers=3)).metadata == PKG_INFO


def test_bombs__too_many_tar_members(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distribution, "MAX_MEMBERS", 200)
    with pytest.raises(UploadRejected, match=r"more than 200 members .*archive bomb"):
        inspect_distribution("bomb-1.0.tar.gz", _sdist(empty_headers=500))


def test_bombs__a_gzip_that_inflates_past_the_budget() -> None:
    """Real size: 300 MiB of zeros (about 0.3 MB compressed) before PKG-INFO."""
    bomb = _sdist(zeros=300 * 1024 * 1024)
    assert len(bomb.getvalue()) < 2 * 1024 * 1024
    with pytest.raises(UploadRejected, match=r"inflates to more than 256 MiB"):
        inspect_distribution("bomb-1.0.tar.gz", bomb)


def test_bombs__the_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distribution, "MAX_SECONDS", -1.0)
    with pytest.raises(UploadRejected, match=r"took more than"):
        inspect_distribution("bomb-1.0.tar.gz", _sdist(empty_headers=3))


def _zip_claiming(entries: int, *, zip64: bool) -> io.BytesIO:
    """A real wheel whose end record claims ``entries`` members (as 1.5 M tiny ones would)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("bomb-1.0.dist-info/METADATA", PKG_INFO)
    data = bytearray(out.getvalue())
    at = data.rfind(b"PK\x05\x06")
    if not zip64:
        struct.pack_into("<HH", data, at + 8, min(entries, 0xFFFF), min(entries, 0xFFFF))
        return io.BytesIO(bytes(data))
    cd_size, cd_offset = struct.unpack_from("<II", data, at + 12)
    record = struct.pack(
        "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    end = bytearray(data[at:])
    struct.pack_into("<HH", end, 8, 0xFFFF, 0xFFFF)
    return io.BytesIO(bytes(data[:at]) + record + locator + bytes(end))


@pytest.mark.parametrize("zip64", [False, True])
def test_bombs__a_zip_with_too_many_members_is_refused_before_parsing(zip64: bool) -> None:
    entries = 1_500_000 if zip64 else 0xFFFE
    with pytest.raises(UploadRejected, match=rf"has {entries} members, over 50000"):
        inspect_distribution("bomb-1.0-py3-none-any.whl", _zip_claiming(entries, zip64=zip64))


def test_bombs__a_small_zip_passes() -> None:
    wheel = _zip_claiming(1, zip64=False)
    assert inspect_distribution("bomb-1.0-py3-none-any.whl", wheel).metadata == PKG_INFO
