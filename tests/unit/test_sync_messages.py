"""What ``blobpi sync`` prints for its failures: one line per cause, not per file."""

from __future__ import annotations

from blobpi.mirror.cli.sync import _one_line_per_foreign_origin
from blobpi.mirror.core.errors import ForeignOrigin
from blobpi.mirror.core.origins import Origins

FILES = "https://files.example"


def _refusal(filename: str, origin: str = FILES) -> str:
    try:
        Origins.of("https://idx.example/simple/", ()).check(f"{origin}/{filename}", filename)
    except ForeignOrigin as e:
        assert e.origin == origin
        return f"{filename}: {e}"
    raise AssertionError("not refused")


def test_sync_messages__files_refused_on_one_origin_are_one_line() -> None:
    other = "timeout on b-1.0.tar.gz: retried 5 times"
    errors = [_refusal(f"a-{i}.whl") for i in range(18)] + [other]
    lines = _one_line_per_foreign_origin(errors, {FILES: 18})
    assert lines[0] == other and len(lines) == 2
    assert lines[1].startswith(f"18 files are on {FILES}, not on an allowed origin: not fetched")
    assert f"BLOBPI_UPSTREAM_ORIGINS={FILES} " in lines[1]


def test_sync_messages__one_refusal_keeps_its_own_line_and_origins_stay_apart() -> None:
    one = _refusal("a-1.whl")
    assert _one_line_per_foreign_origin([one], {FILES: 1}) == [one]
    elsewhere = "https://cdn.example"
    errors = [_refusal("a-1.whl"), _refusal("a-2.whl"), _refusal("b-1.whl", elsewhere)]
    lines = _one_line_per_foreign_origin(errors, {FILES: 2, elsewhere: 1})
    assert lines == [errors[2], lines[1]] and lines[1].startswith(f"2 files are on {FILES}")
