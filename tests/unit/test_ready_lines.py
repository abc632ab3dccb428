"""What ``blobpi serve`` prints once it listens: an install line that works as pasted."""

from __future__ import annotations

from pathlib import Path

from blobpi.mirror.cli.serving import ready_lines
from blobpi.mirror.core.sources import parse_settings


def test_ready_lines__anonymous_on_loopback(tmp_path: Path) -> None:
    settings = parse_settings({"BLOBPI_STORAGE": str(tmp_path), "BLOBPI_PORT": "8123"})
    assert ready_lines(settings)[1] == (
        "blobpi: pip install --index-url http://127.0.0.1:8123/simple/ NAME"
    )


def test_ready_lines__a_token_in_the_line_when_reads_need_one(tmp_path: Path) -> None:
    settings = parse_settings({"BLOBPI_STORAGE": str(tmp_path), "BLOBPI_HOST": "0.0.0.0"})
    assert not settings.server.allows_anonymous_read
    line = ready_lines(settings)[1]
    assert line.startswith(
        "blobpi: pip install --index-url http://__token__:$READ_TOKEN@127.0.0.1:8080/simple/ NAME"
    )
    assert "blobpi token create --scope read" in line
