"""The sync's progress display: rich on a terminal, nothing at all otherwise."""

from __future__ import annotations

import io
import os

from blobpi.sync.io.report import Progress


def read_all(leader: int) -> str:
    """Everything written to a pseudo-terminal whose follower side is closed; closes it."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: no writer left
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_progress__silent_off_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(out)
    progress.advance(files=2, nbytes=3_000_000)
    progress.close()
    assert out.getvalue() == "" and (progress.files, progress.bytes) == (2, 3_000_000)


def test_progress__rich_display_on_a_terminal() -> None:
    leader, follower = os.openpty()
    with os.fdopen(follower, "w") as tty:
        progress = Progress(tty)
        progress.advance(nbytes=1_500_000)
        progress.advance(files=1)
        progress.close()
        tty.flush()
    shown = read_all(leader)
    assert "1 file " in shown and "1.5" in shown and "MB" in shown
