"""The python_feed workspace connection with the real SDK v2 (azure-ai-ml), offline: the REST
body it would send, the written YAML read back by ``load_workspace_connection``, and the
secret kept out of argv, output and errors."""

from __future__ import annotations

import stat
import warnings
from pathlib import Path
from typing import Any

import pytest

from blobpi.deploy.azure.connection import (
    SECRET_VARIABLE,
    connection_for,
    connection_yaml,
    feed_target,
    read_secret,
    write_connection,
)
from blobpi.deploy.azureml import connection_for as notebook_connection_for
from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import ConfigError

INDEX = "https://pkgs.example.org/blobpi/simple/"
SECRET = "s3cr3t-t0ken"


def _load(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from azure.ai.ml import load_workspace_connection

        return load_workspace_connection(source=path)


@pytest.mark.parametrize(
    ("username", "auth", "credentials"),
    [
        (None, "PAT", {"pat": SECRET}),
        ("reader", "UsernamePassword", {"username": "reader", "password": SECRET}),
    ],
)
def test_connection_for__rest_body(
    username: str | None, auth: str, credentials: dict[str, str]
) -> None:
    conn = connection_for(INDEX, name="blobpi", secret=SECRET, username=username)
    body = conn._to_rest_object().as_dict()["properties"]
    assert body["category"] == "PythonFeed"
    assert body["authType"] == auth
    assert body["target"] == "https://pkgs.example.org/"
    assert body["credentials"] == credentials


@pytest.mark.parametrize("username", [None, "reader"])
def test_write_connection__round_trips_through_load_workspace_connection(
    tmp_path: Path, username: str | None
) -> None:
    spec = connection_yaml(INDEX, name="feed", secret=SECRET, username=username)
    path = write_connection(tmp_path, spec)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = _load(path)
    built = connection_for(INDEX, name="feed", secret=SECRET, username=username)
    assert loaded.name == "feed"
    assert loaded._to_rest_object().as_dict() == built._to_rest_object().as_dict()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (None, "https://pkgs.example.org/"),
        ("https://pkgs.example.org/blobpi", "https://pkgs.example.org/blobpi/"),
    ],
)
def test_feed_target__is_a_slash_ended_prefix(target: str | None, expected: str) -> None:
    assert feed_target(INDEX, target) == expected
    assert INDEX.startswith(expected)


def test_feed_target__refuses_a_target_that_is_not_a_prefix() -> None:
    with pytest.raises(ConfigError, match="is not a prefix"):
        feed_target(INDEX, "https://pkgs.example.org/other")


def test_read_secret__from_environment_or_one_line_error() -> None:
    assert read_secret(f" {SECRET}\n", "token") == SECRET
    with pytest.raises(ConfigError, match=f"set {SECRET_VARIABLE}"):
        read_secret(None, "token")  # pytest's stdin is not a terminal: no prompt


def test_cli_connection__secret_from_environment_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["azureml", "connection", "--index-url", INDEX, "--username", "reader"]
    assert main([*argv, "-o", str(tmp_path)], environ={SECRET_VARIABLE: SECRET}) == 0
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    body = _load(tmp_path / "connection.yml")._to_rest_object().as_dict()["properties"]
    assert body["credentials"] == {"username": "reader", "password": SECRET}


def test_cli_connection__has_no_secret_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["azureml", "connection", "--index-url", INDEX, "--token", "--password", SECRET])
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "environ", "message"),
    [
        (["--token"], {}, f"no token given: set {SECRET_VARIABLE}"),
        (["--username", "u", "--sdk", "v1"], {SECRET_VARIABLE: SECRET}, "PAT only"),
        (["--token", "--target", "https://elsewhere.example/"], {}, "is not a prefix"),
    ],
)
def test_cli_connection__bad_input_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    environ: dict[str, str],
    message: str,
) -> None:
    argv = ["azureml", "connection", "--index-url", INDEX, "-o", str(tmp_path / "out"), *extra]
    assert main(argv, environ=environ) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_notebook_connection_for__reads_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    conn = notebook_connection_for(INDEX, username="reader")
    body = conn._to_rest_object().as_dict()["properties"]
    assert body["credentials"] == {"username": "reader", "password": SECRET}


def test_cli_connection_create__missing_workspace_config_is_one_line_without_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["azureml", "connection", "--index-url", INDEX, "--token", "--create"]
    argv += ["--workspace-config", str(tmp_path / "nowhere")]
    assert main(argv, environ={SECRET_VARIABLE: SECRET}) == 1
    err = capsys.readouterr().err
    assert "creating the connection failed" in err and "config.json" in err
    assert err.count("\n") == 1 and SECRET not in err
