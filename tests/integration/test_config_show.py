"""``blobpi config show``: every setting with its value and winning source, the sources it
overrode, and no secret in any form of the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blobpi.mirror.cli.main import main

SECRETS = {
    "AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=KEYSECRET",
    "BLOBPI_FEED_SECRET": "FEEDSECRET",
    "BLOBPI_STORAGE": "https://acct.blob.core.windows.net/pkgs?sv=1&sig=SASSECRET",
    "PIP_INDEX_URL": "https://user:PIPSECRET@pkgs.test/simple/",
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "blobpi.toml"
    path.write_text("[server]\nport = 8000\npage-ttl = 5\n[sync]\nsdists = false\n")
    return path


def test_config_show__sources_and_overrides(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "show", "--json"], {"BLOBPI_PORT": "9000"}) == 0
    rows = {r["setting"]: r for r in json.loads(capsys.readouterr().out)}
    port = rows["server.port"]
    assert (port["value"], port["source"]) == ("9000", "environment")
    assert port["given"] == {"environment": "9000", "blobpi.toml": "8000"}
    assert (rows["server.page_ttl"]["value"], rows["server.page_ttl"]["source"]) == (
        "5.0",
        "blobpi.toml",
    )
    assert rows["sync.filters.sdists"]["value"] == "false"
    assert rows["storage"] == rows["storage"] | {"value": "./data", "source": "default"}
    assert rows["server.port"]["variable"] == "BLOBPI_PORT"
    assert rows["server.port"]["file_key"] == "[server] port"
    assert main(["config", "show"], {"BLOBPI_PORT": "9000"}) == 0
    text = capsys.readouterr().out
    assert "from BLOBPI_PORT, overrides blobpi.toml [server] port='8000'" in text
    assert len(text.splitlines()) == len(rows) + 1


def test_config_show__masks_every_secret(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["config", "show"], ["config", "show", "--json"]):
        assert main(args, SECRETS) == 0
        out = capsys.readouterr().out
        for secret in ("KEYSECRET", "FEEDSECRET", "SASSECRET", "PIPSECRET", "sig="):
            assert secret not in out, (args, secret)
        assert "https://acct.blob.core.windows.net/pkgs" in out
        assert "https://pkgs.test/simple/" in out and "PIP_INDEX_URL" in out


def test_config_show__a_bad_value_names_key_value_and_example(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "show"], {"BLOBPI_PORT": "eighty"}) == 1
    err = capsys.readouterr().err
    assert err == (
        "blobpi: error: BLOBPI_PORT='eighty' is not a number (wrong type): "
        "set e.g. BLOBPI_PORT=8080\n"
    )
    config.write_text("[server]\nport = 'x'\n")
    assert main(["config", "show"], {}) == 1
    assert "blobpi.toml [server] port = 'x'" in capsys.readouterr().err
