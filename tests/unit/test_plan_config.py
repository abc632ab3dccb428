"""``blobpi.sync.config``: the plan's inputs from flags, ``BLOBPI_*`` variables and blobpi.toml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pip._internal.models.index import PyPI

from blobpi.mirror.core.errors import ConfigError
from blobpi.sync.config import Shard, default_upstream, load_config, parse_size


def test_load_config__environment_alone_configures_the_job(tmp_path: Path) -> None:
    toml = tmp_path / "blobpi.toml"
    toml.write_text('[lock]\npython-versions = ["3.12"]\n[sync]\nlatest = 2\nsdists = false\n')
    config = load_config(
        {
            "BLOBPI_UPSTREAM": "http://127.0.0.1:1/simple/",
            "BLOBPI_ALLOWLIST": "/x/allowlist.txt",
            "BLOBPI_SHARD": "2/3",
            "BLOBPI_CONFIG": str(toml),
        }
    )
    assert config.upstream == "http://127.0.0.1:1/simple/"
    assert config.allowlist == Path("/x/allowlist.txt")
    assert config.shard == Shard(2, 3) and config.shard.suffix == "-2-of-3"
    assert config.filters.python_versions == ("3.12",)  # from the lock targets
    assert (config.filters.latest, config.filters.sdists) == (2, False)


def test_load_config__flags_then_environment_then_file(tmp_path: Path) -> None:
    environ = {"BLOBPI_UPSTREAM": "http://a/simple/", "BLOBPI_SHARD": "1/2"}
    toml = tmp_path / "blobpi.toml"
    toml.write_text('[sync]\nupstream = "http://c/simple/"\n')
    config = load_config(environ, upstream="http://b/simple/", shard="2/2", config=str(toml))
    assert config.upstream == "http://b/simple/" and config.shard == Shard(2, 2)
    assert load_config(environ, config=str(toml)).upstream == "http://a/simple/"  # env > file
    assert load_config({}, config=str(toml)).upstream == "http://c/simple/"


def test_default_upstream__pip_index_url_then_pips_own_default() -> None:
    assert default_upstream({"PIP_INDEX_URL": "http://mirror/simple/"}) == "http://mirror/simple/"
    clean = {"PATH": os.environ.get("PATH", ""), "PIP_CONFIG_FILE": os.devnull}
    assert default_upstream(clean) == PyPI.simple_url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sync\n", "is not valid TOML"),
        ("[sync]\nlatest = 'many'\n", "wrong type"),
        ("[lock]\npython-versions = '3.12'\n", "must be a list of strings"),
        ("[sync]\nmax-file-size = 'huge'\n", "is not a size"),
    ],
)
def test_load_config__bad_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    toml = tmp_path / "blobpi.toml"
    toml.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config({"BLOBPI_UPSTREAM": "http://u/"}, config=str(toml))


def test_load_config__missing_file_named_by_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read .*fix BLOBPI_CONFIG"):
        load_config({"BLOBPI_CONFIG": str(tmp_path / "nope.toml"), "BLOBPI_UPSTREAM": "http://u/"})


@pytest.mark.parametrize(
    ("raw", "size"), [("0", 0), ("512", 512), ("500MB", 500 * 1024**2), ("1GiB", 1024**3), (7, 7)]
)
def test_parse_size__units(raw: str | int, size: int) -> None:
    assert parse_size(raw) == size


def test_platform_tags__follow_the_lock_targets(tmp_path: Path) -> None:
    toml = tmp_path / "blobpi.toml"
    toml.write_text(
        '[lock]\nplatforms = ["x86_64-pc-windows-msvc", "aarch64-unknown-linux-musl"]\n'
    )
    filters = load_config({"BLOBPI_UPSTREAM": "http://u/"}, config=str(toml)).filters
    assert filters.platform_tags == ("any", "musllinux*_aarch64", "win_amd64")
