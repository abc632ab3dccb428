"""The one ``Settings``: flags > ``BLOBPI_*`` > ``blobpi.toml`` > defaults, and one clear
error per bad value (``blobpi.mirror.core.sources``, ``blobpi.mirror.settings``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pip._internal.models.index import PyPI

from blobpi.mirror.cli.main import main
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import Filters, Settings, Shard, SyncConfig
from blobpi.mirror.core.sources import parse_settings, parse_size
from blobpi.mirror.settings import default_upstream, load_settings, with_upstream

# One row per key that has all four sources: (flag field, variable, table, file key,
# flag value, variable value, file value, how each reads back, the default).
PRECEDENCE = [
    ("storage", "BLOBPI_STORAGE", "", "storage", "/f", "/e", "/t", ("/f", "/e", "/t", "./data")),
    (
        "server.port",
        "BLOBPI_PORT",
        "server",
        "port",
        9001,
        "9002",
        9003,
        (9001, 9002, 9003, 8080),
    ),
    (
        "server.host",
        "BLOBPI_HOST",
        "server",
        "host",
        "::1",
        "10.0.0.2",
        "10.0.0.3",
        ("::1", "10.0.0.2", "10.0.0.3", "127.0.0.1"),
    ),
    (
        "sync.upstream",
        "BLOBPI_UPSTREAM",
        "sync",
        "upstream",
        "http://f/simple/",
        "http://e/simple/",
        "http://t/simple/",
        ("http://f/simple/", "http://e/simple/", "http://t/simple/", ""),
    ),
    (
        "sync.allowlist",
        "BLOBPI_ALLOWLIST",
        "sync",
        "allowlist",
        "f.txt",
        "e.txt",
        "t.txt",
        (Path("f.txt"), Path("e.txt"), Path("t.txt"), Path("allowlist.txt")),
    ),
    (
        "sync.shard",
        "BLOBPI_SHARD",
        "sync",
        "shard",
        "1/2",
        "2/2",
        "1/3",
        (Shard(1, 2), Shard(2, 2), Shard(1, 3), Shard(1, 1)),
    ),
    (
        "server.token_file",
        "BLOBPI_TOKEN_FILE",
        "server",
        "token-file",
        "f.json",
        "e.json",
        "t.json",
        ("f.json", "e.json", "t.json", None),
    ),
    (
        "server.downloads",
        "BLOBPI_DOWNLOADS",
        "server",
        "downloads",
        "redirect",
        "stream",
        "redirect",
        ("redirect", "stream", "redirect", "stream"),
    ),
]


def _field(settings: Settings, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("path", "env", "table", "key", "flag", "var", "file", "want"), PRECEDENCE)
def test_parse_settings__flag_then_environment_then_file_then_default(
    path: str,
    env: str,
    table: str,
    key: str,
    flag: object,
    var: str,
    file: object,
    want: tuple[object, object, object, object],
) -> None:
    toml: dict[str, Any] = {table: {key: file}} if table else {key: file}
    environ = {env: var}
    assert _field(parse_settings(environ, toml, {path: flag}), path) == want[0]
    assert _field(parse_settings(environ, toml, {path: None}), path) == want[1]
    assert _field(parse_settings({env: ""}, toml), path) == want[2]  # empty is unset
    assert _field(parse_settings({}), path) == want[3]


def test_parse_settings__environment_alone_configures_the_job() -> None:
    settings = parse_settings(
        {
            "BLOBPI_UPSTREAM": "http://127.0.0.1:1/simple/",
            "BLOBPI_ALLOWLIST": "/x/allowlist.txt",
            "BLOBPI_SHARD": "2/3",
            "BLOBPI_SHARED_NAMES": "Alpha_One, beta",
            "BLOBPI_ANONYMOUS_READ": "off",
            "BLOBPI_MAX_UPLOAD_BYTES": "10MiB",
            "BLOBPI_FEED_SECRET": "s3cret",
            "AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k",
        },
        {"lock": {"python-versions": ["3.12"]}, "sync": {"latest": 2, "sdists": False}},
    )
    sync = settings.sync
    assert sync.upstream == "http://127.0.0.1:1/simple/"
    assert sync.allowlist == Path("/x/allowlist.txt")
    assert sync.shard == Shard(2, 3) and sync.shard.suffix == "-2-of-3"
    assert sync.filters.python_versions == ("3.12",)  # from the lock targets
    assert (sync.filters.latest, sync.filters.sdists) == (2, False)
    assert settings.shared_names == frozenset({"alpha-one", "beta"})
    assert settings.server.anonymous_read is False
    assert settings.server.max_upload_bytes == 10 * 1024**2
    assert settings.azureml.feed_secret == "s3cret"
    assert settings.storage_connection_string == "AccountName=a;AccountKey=k"
    assert "s3cret" not in repr(settings) and "AccountKey" not in repr(settings)


def test_parse_settings__defaults_are_the_dataclass_defaults() -> None:
    settings = parse_settings({})
    assert settings.sync == SyncConfig()
    assert settings.sync.filters == Filters(
        platform_tags=("any", "linux_x86_64", "manylinux*_x86_64")
    )
    assert settings.server.allows_anonymous_read  # loopback by default
    assert settings.shared_names == frozenset()


def test_parse_settings__platform_tags_follow_the_lock_targets() -> None:
    toml = {"lock": {"platforms": ["x86_64-pc-windows-msvc", "aarch64-unknown-linux-musl"]}}
    filters = parse_settings({}, toml).sync.filters
    assert filters.platform_tags == ("any", "musllinux*_aarch64", "win_amd64")


def test_parse_settings__upstream_falls_back_to_pips_index_url() -> None:
    pip = {"PIP_INDEX_URL": "http://mirror/simple/ http://extra/"}
    assert parse_settings(pip).sync.upstream == "http://mirror/simple/"
    assert parse_settings(pip, {"sync": {"upstream": "http://t/"}}).sync.upstream == "http://t/"


@pytest.mark.parametrize(
    ("environ", "toml", "flags", "message"),
    [
        ({"BLOBPI_PORT": "eighty"}, {}, {}, "BLOBPI_PORT='eighty' is not a number"),
        ({"BLOBPI_PORT": "70000"}, {}, {}, "BLOBPI_PORT='70000' is out of range"),
        ({}, {}, {"server.port": -1}, "--port -1 is out of range"),
        ({"BLOBPI_PAGE_TTL": "-1"}, {}, {}, "BLOBPI_PAGE_TTL='-1' is out of range"),
        (
            {"BLOBPI_ANONYMOUS_READ": "maybe"},
            {},
            {},
            "BLOBPI_ANONYMOUS_READ='maybe' is not a boolean",
        ),
        ({"BLOBPI_SHARD": "3/2"}, {}, {}, "BLOBPI_SHARD='3/2' is not K/N"),
        ({"BLOBPI_DOWNLOADS": "sas"}, {}, {}, "BLOBPI_DOWNLOADS='sas' is not one of stream"),
        (
            {"BLOBPI_REDIRECT_LIFETIME": "1m"},
            {},
            {},
            "BLOBPI_REDIRECT_LIFETIME='1m' is out of range (5m to 1d)",
        ),
        (
            {},
            {"server": {"redirect-lifetime": 600}},
            {},
            "blobpi.toml [server] redirect-lifetime = 600 is not a duration",
        ),
        ({}, {}, {"sync.shard": "0/1"}, "--shard '0/1' is not K/N"),
        (
            {"BLOBPI_SHARED_NAMES": "ok, -bad-"},
            {},
            {},
            "BLOBPI_SHARED_NAMES='ok, -bad-' has a name that is not",
        ),
        (
            {"BLOBPI_MAX_UPLOAD_BYTES": "lots"},
            {},
            {},
            "BLOBPI_MAX_UPLOAD_BYTES='lots' is not a size",
        ),
        ({}, {"sync": {"latest": "many"}}, {}, "blobpi.toml [sync] latest = 'many' is not a"),
        (
            {},
            {"sync": {"latest": 2.5}},
            {},
            "blobpi.toml [sync] latest = 2.5 is not a whole number",
        ),
        (
            {},
            {"sync": {"sdists": "maybe"}},
            {},
            "blobpi.toml [sync] sdists = 'maybe' is not a boolean",
        ),
        (
            {},
            {"sync": {"concurrency": 0}},
            {},
            "blobpi.toml [sync] concurrency = 0 is out of range",
        ),
        (
            {},
            {"sync": {"max-file-size": "huge"}},
            {},
            "blobpi.toml [sync] max-file-size = 'huge' is not a size",
        ),
        (
            {},
            {"lock": {"python-versions": "3.12"}},
            {},
            "blobpi.toml [lock] python-versions = '3.12' is not a list",
        ),
        ({}, {"lock": {"platforms": []}}, {}, "blobpi.toml [lock] platforms = [] is not a list"),
        ({}, {"sync": {"lattest": 2}}, {}, "blobpi.toml [sync] has no key 'lattest'"),
        ({}, {"srever": {"port": 1}}, {}, "blobpi.toml has no setting 'srever'"),
        ({}, {}, {"sync.upstream": "pypi.org/simple"}, "--upstream 'pypi.org/simple' is not an"),
        ({"BLOBPI_UPSTREAM": "ftp://x/simple"}, {}, {}, "BLOBPI_UPSTREAM='ftp://x/simple' is not"),
        ({}, {"sync": {"upstream": "x/simple"}}, {}, "blobpi.toml [sync] upstream = 'x/simple'"),
    ],
)
def test_parse_settings__bad_value_names_key_value_and_an_example(
    environ: dict[str, str], toml: dict[str, Any], flags: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(environ, toml, flags)
    text = str(raised.value)
    assert message in text and "\n" not in text
    if "has no" not in message:
        where = message.split("=")[0].split(" '")[0].split(" -")[0].strip()
        assert f"set e.g. {where}" in text  # the same key, with a good value


@pytest.mark.parametrize(
    ("environ", "toml", "flags", "message"),
    [
        ({}, {}, {"storage": "htps://acct/pkgs"}, "--storage 'htps://acct/pkgs' has the scheme"),
        ({"BLOBPI_STORAGE": "https//acct/pkgs"}, {}, {}, "BLOBPI_STORAGE='https//acct/pkgs' looks"),
        (
            {},
            {"storage": "ftp://x/y"},
            {},
            "blobpi.toml storage = 'ftp://x/y' has the scheme 'ftp'",
        ),
    ],
)
def test_parse_settings__storage_that_is_a_mistyped_url_is_refused(
    environ: dict[str, str], toml: dict[str, Any], flags: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(environ, toml, flags)
    text = str(raised.value)
    assert text.startswith(message) and "\n" not in text
    assert "give https://ACCOUNT.blob.core.windows.net/CONTAINER, or ./PATH" in text


def test_parse_settings__blank_secrets_are_unset() -> None:
    blank = parse_settings({"BLOBPI_FEED_SECRET": "  ", "AZURE_STORAGE_CONNECTION_STRING": ""})
    assert blank.azureml.feed_secret is None and blank.storage_connection_string is None


def test_load_settings__reads_the_file_named_by_flag_or_variable(tmp_path: Path) -> None:
    toml = tmp_path / "blobpi.toml"
    toml.write_text('[server]\nport = 9100\n[sync]\nupstream = "http://c/simple/"\n')
    by_variable = load_settings({"BLOBPI_CONFIG": str(toml)})
    assert (by_variable.server.port, by_variable.sync.upstream) == (9100, "http://c/simple/")
    by_flag = load_settings({"BLOBPI_CONFIG": "/nope.toml"}, config=str(toml))
    assert by_flag.server.port == 9100
    assert load_settings({"BLOBPI_PORT": "9200"}, config=str(toml)).server.port == 9200


@pytest.mark.parametrize(
    ("text", "message"),
    [("[sync\n", "is not valid TOML"), ("[sync]\nlatest = 'x'\n", "latest = 'x' is not")],
)
def test_load_settings__bad_file_is_one_clear_error(
    tmp_path: Path, text: str, message: str
) -> None:
    toml = tmp_path / "blobpi.toml"
    toml.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings({}, config=str(toml))


def test_load_settings__missing_file_names_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read .*fix BLOBPI_CONFIG"):
        load_settings({"BLOBPI_CONFIG": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigError, match="cannot read .*fix --config"):
        load_settings({}, config=str(tmp_path / "nope.toml"))


def test_with_upstream__asks_pip_only_when_nothing_is_configured() -> None:
    clean = {"PATH": os.environ.get("PATH", ""), "PIP_CONFIG_FILE": os.devnull}
    assert default_upstream(clean) == PyPI.simple_url
    assert with_upstream(parse_settings(clean)).sync.upstream == PyPI.simple_url
    given = parse_settings({**clean, "BLOBPI_UPSTREAM": "http://u/simple/"})
    assert with_upstream(given) is given


def test_cli__a_bad_variable_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["upload", str(tmp_path / "x.whl")], environ={"BLOBPI_MAX_UPLOAD_BYTES": "big"})
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert (
        "BLOBPI_MAX_UPLOAD_BYTES='big' is not a size: set e.g. BLOBPI_MAX_UPLOAD_BYTES=1GiB" in err
    )


@pytest.mark.parametrize(
    ("raw", "size"), [("0", 0), ("512", 512), ("500MB", 500 * 1024**2), ("1GiB", 1024**3), (7, 7)]
)
def test_parse_size__units(raw: str | int, size: int) -> None:
    assert parse_size(raw) == size


def test_settings__upstream_origins_and_removal_share() -> None:
    sync = parse_settings(
        {"BLOBPI_UPSTREAM_ORIGINS": "https://Files.example:443, http://b.example:81/x"},
        {"sync": {"max-removal-share": 0.5}},
    ).sync
    assert sync.upstream_origins == ("https://files.example", "http://b.example:81")
    assert sync.max_removal_share == 0.5
    listed = parse_settings({}, {"sync": {"upstream-origins": ["https://f.example"]}}).sync
    assert listed.upstream_origins == ("https://f.example",)
    for environ in (
        {"BLOBPI_UPSTREAM_ORIGINS": "ftp://x.example"},
        {"BLOBPI_UPSTREAM_ORIGINS": "http://x.example:99999"},
        {"BLOBPI_MAX_REMOVAL_SHARE": "1.5"},
    ):
        with pytest.raises(ConfigError, match="set e.g."):
            parse_settings(environ)
