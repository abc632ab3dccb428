"""The ``blobpi`` command's own failure paths, as a user meets them: one line, exit 1."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.dists import build_sdist, build_wheel
from tests.support.processes import BIN, client_env, run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--storage", "{tmp}/typo"], "the storage directory"),
        (
            ["serve", "--storage", "{tmp}", "--server", "uvicorn", "--workers", "2"],
            "granian",
        ),  # whatever listens on the default port
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


@pytest.mark.parametrize(
    "storage", ["htps://acct.blob.core.windows.net/pkgs", "https//acct/pkgs", "ftp://x/y"]
)
@pytest.mark.parametrize("command", [["upload", "{tmp}/x.whl"], ["token", "list"]])
def test_cli__a_mistyped_storage_url_creates_no_directory(
    tmp_path: Path, storage: str, command: list[str]
) -> None:
    (tmp_path / "x.whl").write_bytes(b"")
    work = tmp_path / "work"
    work.mkdir()
    args = [a.format(tmp=tmp_path) for a in command]
    result = subprocess.run(
        [str(BIN / "blobpi"), *args, "--storage", storage],
        env=client_env(),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"blobpi: error: --storage {storage!r} ")
    assert result.stderr.count("\n") == 1
    assert list(work.iterdir()) == []


def test_cli__serve_on_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not an index\n")
    result = run(
        [str(BIN / "blobpi"), "serve", "--storage", str(tmp_path / "README.md")],
        env=client_env(),
        check=False,
    )
    assert result.returncode == 1
    assert "is a file, not a directory" in result.stderr and "does not exist" not in result.stderr


@pytest.mark.parametrize("stack", ["granian", "uvicorn"])
def test_cli__serve_on_a_port_in_use_is_one_line(tmp_path: Path, stack: str) -> None:
    (tmp_path / "data").mkdir()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run(
            [
                str(BIN / "blobpi"),
                "serve",
                "--storage",
                str(tmp_path / "data"),
                "--port",
                str(port),
            ],
            env=client_env(),
            check=False,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"blobpi: error: port {port} on 127.0.0.1 is in use: pass --port N (make run: PORT=N)\n"
    )
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--config", "{tmp}/blobpi.toml", "--storage", "{tmp}/missing"],
        ["upload", "{tmp}/x.whl", "--config", "{tmp}/blobpi.toml", "--storage", "{tmp}/missing"],
        ["token", "list", "--config", "{tmp}/blobpi.toml", "-v", "--storage", "{tmp}/missing"],
    ],
)
def test_cli__every_subcommand_takes_config_and_v(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "x.whl").write_bytes(b"")
    (tmp_path / "blobpi.toml").write_text("[server]\nport = 'eighty'\n")
    result = run(
        [str(BIN / "blobpi"), *(a.format(tmp=tmp_path) for a in args)],
        env=client_env(),
        check=False,
    )
    # the file was read: its bad value is the error, not an unrecognized --config
    assert result.returncode == 1, result.stderr
    assert "blobpi.toml [server] port = 'eighty'" in result.stderr


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["serve", "--prot", "9"], "usage: blobpi serve "),
        (["token", "list", "--x"], "usage: blobpi token list "),
    ],
)
def test_cli__an_unknown_flag_shows_the_subcommands_usage(args: list[str], usage: str) -> None:
    result = run([str(BIN / "blobpi"), *args], env=client_env(), check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(usage)
    assert f"unrecognized arguments: {args[-2] if args[-1] == '9' else args[-1]}" in result.stderr


def test_cli__upload_says_what_was_new(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", "demo", "1.0")
    sdist = build_sdist(tmp_path / "dist", "demo", "1.0")
    upload = [str(BIN / "blobpi"), "upload", "--storage", str(tmp_path / "data")]
    first = run([*upload, str(wheel)], env=client_env()).stdout.splitlines()
    assert first[-1] == "published 1 new file(s)"
    again = run([*upload, str(wheel), str(sdist)], env=client_env()).stdout.splitlines()
    assert again[0].startswith(f"already present, unchanged: {wheel.name} (sha256 ")
    assert again[-1] == "published 1 new file(s), 1 already present"
