"""Index-URL mode with the real SDK v2 (azure-ai-ml), offline: the conda file's pip section,
the written CLI v2 YAML read back by ``load_environment``, and the bad index URLs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from blobpi.deploy.azure.environment import (
    DEFAULT_IMAGE,
    check_index_url,
    conda_spec,
    environment_for,
    to_yaml,
    write_environment,
)
from blobpi.deploy.azureml import environment_for as notebook_environment_for
from blobpi.deploy.core.requirements import parse_requirements
from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import ConfigError

INDEX = "https://pkgs.example.org/simple/"
LOCK = (
    f"attrs==23.2.0 --hash=sha256:{'a' * 64}\n"
    f'tomli==2.0.1 ; python_version < "3.11" --hash=sha256:{"b" * 64}\n'
)
PIP = [
    f"--index-url {INDEX}",
    f"attrs==23.2.0 --hash=sha256:{'a' * 64}",
    f'tomli==2.0.1 ; python_version < "3.11" --hash=sha256:{"b" * 64}',
]


def _load_environment(path: Path) -> Any:
    with warnings.catch_warnings():  # marshmallow deprecations inside the SDK
        warnings.simplefilter("ignore", DeprecationWarning)
        from azure.ai.ml import load_environment

        return load_environment(source=path)


def _pip_section(conda: dict[str, Any]) -> list[str]:
    (section,) = [d["pip"] for d in conda["dependencies"] if isinstance(d, dict)]
    return list(section)


def test_environment_for__conda_pip_section_uses_only_the_mirror() -> None:
    env = environment_for(INDEX, parse_requirements(LOCK), name="train", python="3.12")
    assert env.image == DEFAULT_IMAGE
    assert env.conda_file["dependencies"][:2] == ["python=3.12", "pip"]
    assert _pip_section(env.conda_file) == PIP
    body = env._to_rest_object().as_dict()["properties"]
    assert "--extra-index-url" not in body["condaFile"]
    assert yaml.safe_load(body["condaFile"]) == env.conda_file


def test_write_environment__round_trips_through_load_environment(tmp_path: Path) -> None:
    env_file, conda_file = write_environment(
        tmp_path, parse_requirements(LOCK), index_url=INDEX, name="train", image="img:1"
    )
    loaded = _load_environment(env_file)
    assert (loaded.name, loaded.image) == ("train", "img:1")
    assert _pip_section(loaded.conda_file) == PIP
    assert loaded.conda_file == yaml.safe_load(conda_file.read_text())
    built = environment_for(INDEX, parse_requirements(LOCK), name="train", image="img:1")
    assert loaded.conda_file == built.conda_file


def test_environment_for__blob_urls_install_with_no_index() -> None:
    url = "https://acct.blob.core.windows.net/c/packages/a-1-py3-none-any.whl?sig=x"
    line = f"a @ {url}#sha256={'c' * 64}"
    env = environment_for(None, [line], name="blob")
    assert _pip_section(env.conda_file) == ["--no-index", line]


@pytest.mark.parametrize(
    "value",
    [
        "pip: ['x']",
        "a #b",
        "*anchor",
        "line\nbreak",
        'q"uote',
        "- item",
        "{x: 1}",
        "ünï",
    ],
)
def test_to_yaml__strings_read_back_verbatim(value: str) -> None:
    data = {"k": [value, {"n": [value]}], value: "v"}
    assert yaml.safe_load(to_yaml(data)) == data


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://user:secret@pkgs.example.org/simple/", "has credentials in it"),
        ("https://token@pkgs.example.org/simple/", "has credentials in it"),
        ("http://pkgs.example.org/simple/", "plain http"),
        ("ftp://pkgs.example.org/simple/", "not an http(s) URL"),
        ("https://pkgs.example.org/simple/?sig=abc", "query or fragment"),
        ("pkgs.example.org/simple", "not an http(s) URL"),
    ],
)
def test_check_index_url__refuses(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_index_url(url)
    assert message in str(info.value)
    assert "secret" not in str(info.value)


def test_check_index_url__loopback_http_is_allowed() -> None:
    assert check_index_url("http://127.0.0.1:8080/simple") == "http://127.0.0.1:8080/simple/"


def test_conda_spec__never_extra_index_url() -> None:
    spec = conda_spec(["a==1"], index_url=INDEX)
    assert "--extra-index-url" not in to_yaml(spec)


def test_cli_environment__writes_files_without_secret_or_extra_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(LOCK)
    argv = ["azureml", "environment", "--index-url", INDEX, "-r", str(lock), "--name", "train"]
    assert main([*argv, "-o", str(tmp_path / "out")], environ={}) == 0
    assert "az ml environment create --file" in capsys.readouterr().out
    texts = [p.read_text() for p in (tmp_path / "out").iterdir()]
    assert len(texts) == 2 and all("--extra-index-url" not in t for t in texts)
    loaded = _load_environment(tmp_path / "out" / "environment.yml")
    assert _pip_section(loaded.conda_file) == PIP


@pytest.mark.parametrize(
    ("lock", "extra", "message"),
    [
        ("attrs>=23\n", [], "requirements.txt line 1: 'attrs>=23' is not pinned"),
        ("attrs==23.2.0\n", ["--index-url", "https://u:p@h.example/simple/"], "credentials"),
        ("attrs==23.2.0\n", ["-o", "{out}", "-r", "{out}/missing.txt"], "cannot read"),
        ("attrs==23.2.0\n", [], "nothing to do"),
    ],
)
def test_cli_environment__bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lock: str, extra: list[str], message: str
) -> None:
    (tmp_path / "requirements.txt").write_text(lock)
    argv = ["azureml", "environment", "--index-url", INDEX, "--name", "n"]
    argv += ["-r", str(tmp_path / "requirements.txt")]
    if extra[:1] != ["-o"] and message != "nothing to do":
        argv += ["-o", str(tmp_path / "out")]
    argv += [e.format(out=tmp_path) for e in extra]
    assert main(argv, environ={}) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("blobpi: error: ")
    assert not (tmp_path / "out").exists()


def test_notebook_environment_for__reads_the_lock_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(LOCK)
    env = notebook_environment_for(INDEX, tmp_path / "requirements.txt", name="train")
    assert _pip_section(env.conda_file) == PIP
    with pytest.raises(ConfigError, match="cannot read"):
        notebook_environment_for(INDEX, tmp_path / "missing.txt", name="train")


def test_conda_spec__no_index_needs_url_lines() -> None:
    with pytest.raises(ConfigError, match="every line must be a 'name @ URL' line"):
        conda_spec(["a==1"], index_url=None)


def test_cli_environment_create__missing_workspace_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text(LOCK)
    argv = ["azureml", "environment", "--index-url", INDEX, "--name", "train", "--create"]
    argv += ["-r", str(tmp_path / "requirements.txt")]
    assert main([*argv, "--workspace-config", str(tmp_path / "nowhere")], environ={}) == 1
    err = capsys.readouterr().err
    assert "creating the environment failed" in err and err.count("\n") == 1
