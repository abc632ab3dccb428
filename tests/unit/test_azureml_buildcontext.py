"""Pip-only Azure ML environments with the real SDK v2, offline: the build context's files,
the CLI v2 YAML and ``Environment(build=BuildContext(...))`` loading the same directory,
pinned images, private conda channels, and URL lines from the command line."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from blobpi.deploy.azure.buildenv import (
    BuildEnvironmentSpec,
    build_environment_for,
    write_build_context,
)
from blobpi.deploy.azure.environment import DEFAULT_IMAGE, conda_spec
from blobpi.deploy.core.buildcontext import build_context, check_image
from blobpi.deploy.core.requirements import (
    as_pip_lines,
    locked_pythons,
    parse_requirements,
    parse_url_lines,
)
from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import ConfigError

INDEX = "https://pkgs.example.org/simple/"
LOCK = f"attrs==23.2.0 --hash=sha256:{'a' * 64}\n"
BLOB = "https://acct.blob.core.windows.net/c/packages/attrs-23.2.0-py3-none-any.whl"
URL = f"attrs @ {BLOB}?sig=x%3D#sha256={'a' * 64}"


def _load_environment(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from azure.ai.ml import load_environment

        return load_environment(source=path)


def test_default_image__is_pinned() -> None:
    assert check_image(DEFAULT_IMAGE) == DEFAULT_IMAGE and not DEFAULT_IMAGE.endswith(":latest")


@pytest.mark.parametrize(
    "image",
    ["myacr.azurecr.io/py:latest", "myacr.azurecr.io/py", "localhost:5000/py", "Bad Image:1"],
)
def test_check_image__refuses_what_drifts(image: str) -> None:
    with pytest.raises(ConfigError, match="--image"):
        check_image(image)


def test_check_image__a_digest_pins_too() -> None:
    image = "myacr.azurecr.io/py@sha256:" + "0" * 64
    assert check_image(image) == image


def test_build_context__files_install_from_the_mirror_only() -> None:
    files = build_context(
        [r.pip_line for r in parse_requirements(LOCK)], index_url=INDEX, image="i:1", python="3.12"
    )
    assert files["requirements.txt"].splitlines()[0] == f"--index-url {INDEX}"
    assert (
        "extra-index-url =\n" in files["pip.conf"] and f"index-url = {INDEX}" in files["pip.conf"]
    )
    dockerfile = files["Dockerfile"]
    assert dockerfile.count("FROM ") == 1 and "FROM i:1\n" in dockerfile
    assert "--require-hashes" in dockerfile and '"3.12"' in dockerfile
    assert "conda" not in dockerfile.split("FROM", 1)[1]
    url_files = build_context([URL], index_url=None, image="i:1", python="3.11")
    assert url_files["requirements.txt"] == f"--no-index\n{URL}\n"
    assert "no-index = true" in url_files["pip.conf"]
    with pytest.raises(ConfigError, match="every line must be a 'name @ URL' line"):
        build_context(["attrs==23.2.0"], index_url=None, image="i:1", python="3.11")


def test_write_build_context__yaml_and_sdk_load_the_same_directory(tmp_path: Path) -> None:
    lines = as_pip_lines(parse_requirements(LOCK))
    spec = BuildEnvironmentSpec("train", lines, index_url=INDEX, image="i:1", python="3.11")
    env_file = write_build_context(tmp_path / "yaml", spec)
    loaded = _load_environment(env_file)
    built = build_environment_for(tmp_path / "sdk", spec)
    assert loaded.name == built.name == "train"
    assert loaded.image is None and built.image is None and loaded.conda_file is None
    assert loaded.build.dockerfile_path == built.build.dockerfile_path == "Dockerfile"
    # the YAML names the context relative to itself, as the CLI v2 resolves it
    context = Path(loaded.base_path, loaded.build.path).resolve()
    assert context == (tmp_path / "yaml" / "context").resolve()
    assert Path(built.build.path) == tmp_path / "sdk" / "context"
    for name in ("Dockerfile", "requirements.txt", "pip.conf"):
        assert (tmp_path / "yaml/context" / name).read_text() == (
            tmp_path / "sdk/context" / name
        ).read_text()
    rest = built._to_rest_object().as_dict()["properties"]
    assert rest["build"]["dockerfilePath"] == "Dockerfile"


def test_conda_spec__a_private_channel_and_no_defaults() -> None:
    spec = conda_spec(["a==1"], index_url=INDEX, channels=["https://conda.corp/main"])
    assert spec["channels"] == ["https://conda.corp/main", "nodefaults"]
    assert conda_spec(["a==1"], index_url=INDEX)["channels"] == ["conda-forge"]


def test_parse_url_lines__wheel_urls_output_or_none() -> None:
    assert parse_url_lines(URL + "\n") == (URL,)
    assert parse_url_lines(LOCK) is None
    with pytest.raises(ConfigError, match="must hold only those"):
        parse_url_lines(URL + "\n" + LOCK)
    with pytest.raises(ConfigError, match="no #sha256= fragment"):
        parse_url_lines(URL.split("#")[0])


def test_cli_environment__url_lines_conda_channel_and_build_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(URL + "\n")
    base = ["azureml", "environment", "-r", str(urls), "--name", "train"]
    channel = ["--conda-channel", "https://conda.corp/main"]
    assert main([*base, *channel, "-o", str(tmp_path / "conda")], environ={}) == 0
    conda = yaml.safe_load((tmp_path / "conda" / "conda.yml").read_text())
    assert conda["channels"] == ["https://conda.corp/main", "nodefaults"]
    assert conda["dependencies"][2] == {"pip": ["--no-index", URL]}
    environment = yaml.safe_load((tmp_path / "conda" / "environment.yml").read_text())
    assert environment["image"] == DEFAULT_IMAGE

    assert main([*base, "--build-context", "-o", str(tmp_path / "bc")], environ={}) == 0
    assert (tmp_path / "bc" / "context" / "requirements.txt").read_text() == f"--no-index\n{URL}\n"
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--build-context", "--sdk", "v1"], "pip-only SDK v2"),
        (["--build-context", "--conda-channel", "https://c/x"], "drop --sdk v1 and --conda"),
        (["--image", "myacr.azurecr.io/py:latest"], "not pinned"),
        (["--no-such-index"], None),
    ],
)
def test_cli_environment__bad_combinations_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str | None
) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(LOCK)
    argv = ["azureml", "environment", "-r", str(lock), "--name", "t", "-o", str(tmp_path / "o")]
    if message is None:  # a lock without --index-url
        assert main(argv, environ={}) == 1
        assert "give --index-url" in capsys.readouterr().err
        return
    assert main([*argv, "--index-url", INDEX, *extra], environ={}) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


HEADED = (
    "#\n# This file is autogenerated by blobpi lock: the hashed dependency closure of\n"
    "#\n# targets: CPython 3.10, 3.11, 3.12 on x86_64-manylinux_2_28\n"
    f"# input: sha256:{'c' * 64}\n#\n{LOCK}"
)


@pytest.mark.parametrize(
    "command",
    [
        ["azureml", "environment", "--index-url", INDEX, "--name", "t", "-o", "{tmp}/o"],
        ["azureml", "environment", "--build-context", "--index-url", INDEX, "--name", "t",
         "-o", "{tmp}/o"],
        ["azureml", "wheel-urls", "--storage", "{tmp}/data"],
    ],
)  # fmt: skip
def test_cli_azureml__a_python_the_lock_was_not_resolved_for_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(HEADED)
    argv = [a.format(tmp=tmp_path) for a in command]
    assert main([*argv, "-r", str(lock), "--python", "3.13"], environ={}) == 1
    err = capsys.readouterr().err
    assert err == (
        "blobpi: error: requirements.txt was locked for CPython 3.10, 3.11, 3.12, not --python "
        "3.13: pass --python 3.12, or add 3.13 to blobpi.toml [lock] python-versions and rerun "
        "blobpi lock\n"
    )
    assert not (tmp_path / "o").exists()


def test_cli_environment__the_dockerfile_guard_names_the_locks_targets(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text(HEADED)
    argv = ["azureml", "environment", "--build-context", "--index-url", INDEX, "--name", "t"]
    assert main([*argv, "-r", str(lock), "-o", str(tmp_path / "o")], environ={}) == 0
    dockerfile = (tmp_path / "o" / "context" / "Dockerfile").read_text()
    assert 'v in ("3.10", "3.11", "3.12", )' in dockerfile
    assert "the lock is for 3.10, 3.11, 3.12: use an image with Python 3.10 or 3.11 or 3.12" in (
        dockerfile
    )


@pytest.mark.parametrize(
    ("text", "pythons"),
    [(HEADED, ("3.10", "3.11", "3.12")), (LOCK, ()), ("# targets: CPython 3.12 on x\n", ("3.12",))],
)
def test_locked_pythons__from_the_header(text: str, pythons: tuple[str, ...]) -> None:
    assert locked_pythons(text) == pythons
