"""The production SAS path, user delegation, against a second Azurite with HTTPS (a
self-signed certificate made here) and ``--oauth basic``, which checks a bearer token's
issuer, audience and lifetime but not its signature. So the only stand-in is the token
itself: Azurite issues the delegation key, and checks the SAS it signs on every download.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import re
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob.aio import BlobServiceClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from blobpi.mirror.core.expiry import bucketed_window
from blobpi.mirror.store.signing import delegation_signer
from tests.support.processes import AZURITE_ACCOUNT, ROOT, free_port, stop, wait_until

pytestmark = [pytest.mark.azurite, pytest.mark.slow]

OID, TID = str(uuid.uuid4()), str(uuid.uuid4())
PATH = "packages/aa/bb/cc/x-1.0-py3-none-any.whl"
DATA = b"wheel bytes " * 100


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class EntraStandIn:
    """An async token credential whose tokens carry the claims Azurite checks."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        now = int(time.time())
        claims = {
            "aud": "https://storage.azure.com",
            "iss": f"https://sts.windows.net/{TID}/",
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "oid": OID,
            "tid": TID,
        }
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(b'unchecked')}"
        return AccessToken(token, now + 3600)

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> EntraStandIn:
        return self

    async def __aexit__(self, *args: object) -> None:
        pass


def _trust(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def https_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(account URL, CA file) of an Azurite that speaks HTTPS and OAuth."""
    cert, key = _certificate(tmp_path_factory.mktemp("azurite-tls"))
    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".tools/node_modules/.bin/azurite-blob"),
            *("--inMemoryPersistence", "--silent", "--disableTelemetry", "--skipApiVersionCheck"),
            *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
            *("--cert", str(cert), "--key", str(key), "--oauth", "basic"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(url, verify=_trust(cert), timeout=1).status_code > 0,
            what="Azurite over HTTPS",
        )
        yield f"{url}/{AZURITE_ACCOUNT}", cert
    finally:
        stop(process)


@pytest.fixture
async def service(https_azurite: tuple[str, Path]) -> AsyncIterator[BlobServiceClient]:
    account_url, cert = https_azurite
    client = BlobServiceClient(account_url, credential=EntraStandIn(), connection_verify=str(cert))
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.anyio
async def test_delegation_signer__azurite_accepts_the_sas_and_refuses_tampering(
    service: BlobServiceClient, https_azurite: tuple[str, Path]
) -> None:
    account_url, cert = https_azurite
    name = f"t{uuid.uuid4().hex[:20]}"
    container = service.get_container_client(name)
    await container.create_container()
    await container.upload_blob(PATH, DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    container_url = f"{account_url}/{name}"

    now = dt.datetime.now(dt.UTC)
    start, expiry = bucketed_window(now, dt.timedelta(hours=8))
    signer = await delegation_signer(service, container_url, start, expiry)
    url = signer.url(PATH, sha, expiry)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert (query["skoid"], query["sktid"], query["sp"], query["spr"]) == (OID, TID, "r", "https")

    def get(u: str) -> httpx.Response:
        return httpx.get(u.split("#", 1)[0], verify=_trust(cert), timeout=10)

    ok = get(url)
    assert ok.status_code == 200 and hashlib.sha256(ok.content).hexdigest() == sha

    again = await delegation_signer(
        service, container_url, *bucketed_window(now, dt.timedelta(hours=8))
    )
    assert again.url(PATH, sha, expiry) == url  # same bucket, same key, same URL

    expired = signer.url(PATH, sha, now - dt.timedelta(minutes=5))
    sig = re.search(r"sig=([^&#]+)", url)
    assert sig is not None
    flipped = ("B" if sig.group(1)[0] == "A" else "A") + sig.group(1)[1:]
    tampered = url.replace(sig.group(0), f"sig={flipped}")
    assert tampered != url
    for bad in (expired, tampered, url.replace("sp=r", "sp=rw")):
        assert get(bad).status_code == 403, bad
