"""Downloads by redirect to a read SAS (``BLOBPI_DOWNLOADS=redirect``), on Azurite: who gets
a redirect and who does not, what the URL grants, that the blob service answers it (Range,
HEAD), that nothing logs it, and that a store which cannot sign refuses to start."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import ServerSettings, Settings
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.protocol import BlobStore, open_store
from tests.integration.test_auth import add_token, auth, serve
from tests.support.dists import build_wheel
from tests.support.processes import (
    AZURITE_ACCOUNT,
    BIN,
    Azurite,
    Server,
    client_env,
    make_venv,
    run,
)
from tests.support.relay import Relay

pytestmark = [pytest.mark.azurite, pytest.mark.anyio]
LIFETIME = dt.timedelta(minutes=10)


@pytest.fixture
async def azure(azurite: Azurite) -> AsyncIterator[BlobStore]:
    async with open_store(azurite.new_container_url(), azurite.connection_string) as store:
        await store.ensure()
        yield store


async def _upload(store: BlobStore, tmp_path: Path) -> tuple[str, bytes]:
    from blobpi.mirror.ops.publish import Batch

    wheel = build_wheel(tmp_path / "dist", "redirected", "1.0")
    batch = Batch(store, max_bytes=1 << 30)
    with wheel.open("rb") as f:
        result = await batch.add(wheel.name, f)
    await batch.commit()
    assert result.file.blob_path is not None
    return result.file.blob_path, wheel.read_bytes()


async def test_redirect__to_a_read_sas_of_that_blob_only_after_auth(
    azure: BlobStore, azurite: Azurite, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path, data = await _upload(azure, tmp_path)
    secret, _ = await add_token(azure)
    url = "/" + path
    settings: dict[str, Any] = {
        "downloads": "redirect",
        "redirect_lifetime": LIFETIME,
        "connection_string": azurite.connection_string,
    }
    async with serve(azure, **settings) as http, httpx.AsyncClient() as blob_host:
        assert (await http.get(url)).status_code == 401  # no token: no redirect
        answer = await http.get(url, auth=auth(secret))
        assert answer.status_code == 307
        location = answer.headers["location"]
        parts = urlsplit(location)
        container = azure.signing().container_url  # type: ignore[union-attr]
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{container}/{path}"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert (query["sp"], query["sr"]) == ("r", "b")  # read, this one blob
        expiry = dt.datetime.strptime(query["se"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        left = expiry - dt.datetime.now(dt.UTC)
        assert LIFETIME * 7 / 8 - dt.timedelta(seconds=5) < left <= LIFETIME
        cache = answer.headers["cache-control"]
        assert cache.startswith("private, max-age=")  # a SAS is never for shared caches
        assert int(cache.rsplit("=", 1)[1]) < left.total_seconds()
        # the same URL again: signed once per bucket
        assert (await http.get(url, auth=auth(secret))).headers["location"] == location

        # the blob service answers it, with no token: whole, a range, and a HEAD
        whole = await blob_host.get(location)
        assert whole.status_code == 200 and whole.content == data
        ranged = await blob_host.get(location, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == data[10:20]
        head = await http.head(url, auth=auth(secret))
        assert head.status_code == 307
        blob_head = await blob_host.head(head.headers["location"])
        assert blob_head.status_code == 200
        assert int(blob_head.headers["content-length"]) == len(data)
        # the metadata file too; the SAS of one blob opens no other
        meta = await http.get(url + ".metadata", auth=auth(secret))
        assert meta.status_code == 307
        assert (await blob_host.get(meta.headers["location"])).content.startswith(b"Metadata")
        other = meta.headers["location"].replace(".metadata?", "?")
        assert (await blob_host.get(other)).status_code == 403
        tampered = location.replace("sp=r", "sp=rw")
        assert (await blob_host.get(tampered)).status_code == 403

        # a conditional request is answered here; a missing file is a 404, not a redirect
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        again = await http.get(url, auth=auth(secret), headers={"If-None-Match": etag})
        assert again.status_code == 304
        missing = await http.get(url.replace(".whl", "-gone.whl"), auth=auth(secret))
        assert missing.status_code == 404 and "location" not in missing.headers
    # everything the server and the SDK logged (httpx's lines are this test's own clients)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    )
    assert "blobpi.access" in {r.name for r in caplog.records}
    assert "sig=" not in logged and query["sig"] not in logged


async def test_redirect__anonymous_reads_may_be_cached_by_anyone(
    azure: BlobStore, azurite: Azurite, tmp_path: Path
) -> None:
    path, _ = await _upload(azure, tmp_path)
    settings: dict[str, Any] = {
        "downloads": "redirect",
        "anonymous_read": True,
        "connection_string": azurite.connection_string,
    }
    async with serve(azure, **settings) as http:
        answer = await http.get("/" + path)
    assert answer.status_code == 307
    assert answer.headers["cache-control"].startswith("max-age=")


async def test_redirect__streams_when_no_signer_can_be_had(
    azure: BlobStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection string's key for another account cannot sign: downloads still work."""
    path, data = await _upload(azure, tmp_path)
    wrong = "AccountName=someoneelse;AccountKey=a2V5"
    async with serve(
        azure, downloads="redirect", anonymous_read=True, connection_string=wrong
    ) as http:
        answer = await http.get("/" + path)
    assert answer.status_code == 200 and answer.content == data
    assert "download redirects off" in caplog.text


def test_redirect__refused_at_start_on_a_store_that_cannot_sign(tmp_path: Path) -> None:
    settings = Settings(storage=str(tmp_path), server=ServerSettings(downloads="redirect"))
    with pytest.raises(ConfigError, match="is a directory.*BLOBPI_DOWNLOADS=stream"):
        create_app(settings)
    sas = "http://127.0.0.1:9/devstoreaccount1/pkgs?sv=2024-01-01&sp=rl&sig=c2VjcmV0"
    for storage in (str(tmp_path), sas):
        result = run(
            [str(BIN / "blobpi"), "serve", "--storage", storage, "--downloads", "redirect"],
            env=client_env(),
            check=False,
            timeout=60,
        )
        assert result.returncode == 1
        assert result.stderr.startswith("blobpi: error: BLOBPI_DOWNLOADS=redirect needs")
        assert len(result.stderr.splitlines()) == 1
        assert "c2VjcmV0" not in result.stderr  # the SAS is not echoed
    assert "is a SAS" in result.stderr and "BLOBPI_DOWNLOADS=stream" in result.stderr


@pytest.mark.slow
def test_redirect__pip_and_uv_install_through_it_with_auth_on(
    azurite: Azurite, tmp_path: Path
) -> None:
    """Real clients follow the redirect to the blob host (a recording relay in front of
    Azurite), verify the hashes, and never send the index's token there."""
    lib = build_wheel(tmp_path / "dist", "redir-lib", "1.0")
    app = build_wheel(tmp_path / "dist", "redir-app", "2.0", requires=["redir-lib"])
    sha = {w: hashlib.sha256(w.read_bytes()).hexdigest() for w in (lib, app)}
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        f"redir-app==2.0 --hash=sha256:{sha[app]}\nredir-lib==1.0 --hash=sha256:{sha[lib]}\n"
    )
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    with Relay.start(azurite.port) as relay:
        storage = f"http://127.0.0.1:{relay.port}/{AZURITE_ACCOUNT}/t{uuid.uuid4().hex[:20]}"
        blobpi = [str(BIN / "blobpi")]
        run([*blobpi, "upload", str(lib), str(app), "--storage", storage], env=client_env(env))
        token = run(
            [*blobpi, "token", "create", "--scope", "read", "--storage", storage],
            env=client_env(env),
        ).stdout.strip()
        served = {**env, "BLOBPI_ANONYMOUS_READ": "0", "BLOBPI_DOWNLOADS": "redirect"}
        with Server.start(storage, served, tmp_path) as server:
            index = server.index_url.replace("://", f"://__token__:{token}@")
            python = make_venv(tmp_path / "venv")
            pip = [str(python), "-m", "pip"]
            hashed = ["--index-url", index, "--require-hashes", "-r", str(requirements)]
            downloads = tmp_path / "downloads"
            run([*pip, "download", "-d", str(downloads), *hashed], env=client_env())
            got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in downloads.iterdir()}
            assert got == {w.name: sha[w] for w in (lib, app)}
            run([*pip, "install", *hashed], env=client_env())
            uv_venv = tmp_path / "uv-venv"
            run([str(BIN / "uv"), "venv", "--quiet", str(uv_venv)], env=client_env())
            uv = [str(BIN / "uv"), "pip", "install", "--python", str(uv_venv / "bin/python")]
            run([*uv, "--index-url", index, "redir-app"], env=client_env())
            log = server.log.read_text()
        sent = relay.sent
    credentials = base64.b64encode(f"__token__:{token}".encode())
    assert token.encode() not in sent and credentials not in sent  # never to the blob host
    # each client fetched both wheels from the blob host, by SAS
    for wheel in (lib, app):
        assert sent.count(f"/{wheel.name}?".encode()) >= 3
    assert b"sig=" in sent
    assert "GET /packages/" in log and " 307 " in log  # redirected, and logged without it
    assert "sig=" not in log
