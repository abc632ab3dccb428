"""``blobpi sync`` and ``blobpi lock`` behind a corporate TLS-inspecting proxy: a real HTTPS
upstream (its certificate from a CA the sync does not trust), reached only through a local
proxy that re-signs it with a private CA, as ``HTTPS_PROXY`` and ``BLOBPI_CA_BUNDLE`` say."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.support.dists import build_wheel
from tests.support.processes import BIN, client_env, run
from tests.support.proxy import InspectingProxy
from tests.support.upstream import LocalUpstream

pytestmark = pytest.mark.slow


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[tuple[LocalUpstream, InspectingProxy]]:
    public_ca = trustme.CA(organization_name="blobpi test public CA")  # trusted by the proxy only
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    public_ca.issue_cert("127.0.0.1").configure_cert(served)
    proxy_trust = ssl.create_default_context()
    public_ca.configure_trust(proxy_trust)
    with (
        LocalUpstream.start(tls=served) as upstream,
        InspectingProxy.start(proxy_trust, tmp_path) as proxy,
    ):
        upstream.add(build_wheel(tmp_path / "dist", "demo", "1.0", requires=["helper"]))
        upstream.add(build_wheel(tmp_path / "dist", "helper", "2.0"))
        yield upstream, proxy


def _env(tmp_path: Path, upstream: LocalUpstream, **extra: str) -> dict[str, str]:
    (tmp_path / "none.toml").write_text("[sync]\nretries = 1\nbackoff = 0.01\n")
    return client_env(
        {
            "BLOBPI_UPSTREAM": upstream.index_url,
            "BLOBPI_STORAGE": str(tmp_path / "data"),
            "BLOBPI_CONFIG": str(tmp_path / "none.toml"),
            **extra,
        }
    )


def test_sync__through_a_tls_inspecting_proxy_with_its_ca_bundle(
    behind_proxy: tuple[LocalUpstream, InspectingProxy], tmp_path: Path
) -> None:
    upstream, proxy = behind_proxy
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("demo\nhelper\n")
    env = _env(tmp_path, upstream, HTTPS_PROXY=proxy.url, BLOBPI_CA_BUNDLE=str(proxy.ca_file))
    result = run([str(BIN / "blobpi"), "sync", "--allowlist", str(allowlist)], env=env)
    assert "2 files added" in result.stdout and "0 failed" in result.stdout, result.stdout

    assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{upstream.port}"}
    assert {"/simple/demo/", "/simple/helper/"} <= set(proxy.seen)
    for dist in upstream.dists.values():
        assert dist.url_path in proxy.seen  # the files came through the proxy, in clear to it
        blob = tmp_path / "data" / dist.url_path.lstrip("/")
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == dist.sha256


def test_sync__untrusted_inspection_is_one_line_naming_the_fix(
    behind_proxy: tuple[LocalUpstream, InspectingProxy], tmp_path: Path
) -> None:
    upstream, proxy = behind_proxy
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("demo\nhelper\n")
    env = _env(tmp_path, upstream, HTTPS_PROXY=proxy.url)  # no CA bundle: the proxy's CA is
    result = run([str(BIN / "blobpi"), "sync", "--allowlist", str(allowlist)], env=env, check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("blobpi: error:")]
    assert len(errors) == 1, result.stderr
    assert "not trusted" in errors[0] and "BLOBPI_CA_BUNDLE" in errors[0]
    assert proxy.tunnels and not proxy.seen  # the handshake failed: nothing was sent in clear
    assert upstream.count("/simple/") == 0
    assert not (tmp_path / "data" / "packages").exists()


def test_sync__no_proxy_connects_directly(
    behind_proxy: tuple[LocalUpstream, InspectingProxy], tmp_path: Path
) -> None:
    upstream, proxy = behind_proxy
    allowlist = tmp_path / "allowlist.txt"
    allowlist.write_text("helper\n")
    env = _env(tmp_path, upstream, HTTPS_PROXY=proxy.url, NO_PROXY="localhost,127.0.0.1")
    env["BLOBPI_CA_BUNDLE"] = str(proxy.ca_file)
    result = run([str(BIN / "blobpi"), "sync", "--allowlist", str(allowlist)], env=env, check=False)
    # Direct, the client met the upstream's own certificate, which only the proxy trusts.
    assert result.returncode == 1 and "not trusted" in result.stderr
    assert not proxy.tunnels and not proxy.seen


def test_lock__resolves_through_the_proxy(
    behind_proxy: tuple[LocalUpstream, InspectingProxy], tmp_path: Path
) -> None:
    upstream, proxy = behind_proxy
    (tmp_path / "allowlist.in").write_text("demo\n")
    (tmp_path / "lock.toml").write_text('[lock]\npython-versions = ["3.11"]\n')
    env = _env(tmp_path, upstream, HTTPS_PROXY=proxy.url, BLOBPI_CA_BUNDLE=str(proxy.ca_file))
    env["BLOBPI_CONFIG"] = str(tmp_path / "lock.toml")
    run([str(BIN / "blobpi"), "lock", str(tmp_path / "allowlist.in")], env=env)
    text = (tmp_path / "allowlist.txt").read_text()
    assert "demo==1.0 \\" in text and "helper==2.0 \\" in text
    assert "/simple/demo/" in proxy.seen and "/simple/helper/" in proxy.seen
