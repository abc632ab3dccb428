"""The ``blobpi`` command's own failure paths, as a user meets them: one line, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import BIN, client_env, run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--storage", "{tmp}/typo"], "the storage directory"),
        (["serve", "--storage", "{tmp}", "--server", "uvicorn", "--workers", "2"], "granian"),
        (["serve", "--storage", "{tmp}", "--workers", "0"], "--workers 0 is out of range"),
        (["upload", "{tmp}/missing.whl", "--storage", "{tmp}/data"], "is not a file"),
        (
            ["upload", "{tmp}/x.whl", "--storage", "http://127.0.0.1:1/devstoreaccount1/pkgs"],
            "plain http, which only Azurite speaks",
        ),
    ],
)
def test_cli__user_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "x.whl").write_bytes(b"")
    result = run(
        [str(BIN / "blobpi"), *(a.format(tmp=tmp_path) for a in args)],
        env=client_env(),
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("blobpi: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
