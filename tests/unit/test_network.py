"""The sync's network settings: which requests go through the proxy, the trust store and
the CA bundle, and how the proxy settings are read (never echoing a proxy's password)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

import httpx
import pytest
import trustme

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.settings import SyncConfig
from blobpi.mirror.core.sources import parse_settings
from blobpi.sync.io.network import proxy_for, ssl_context, uv_network_args

PROXY = "http://proxy.corp.example:3128"


@pytest.mark.parametrize(
    ("url", "no_proxy", "expected"),
    [
        ("https://up.example/simple/", None, PROXY),
        ("https://up.example/simple/", "*", None),
        ("https://up.example/simple/", "example", None),  # a domain covers its hosts
        ("https://up.example/simple/", "other.example", PROXY),
        ("https://notup.example/", "up.example", PROXY),  # a suffix is not a domain
        ("https://pkgs.corp.example/", ".corp.example", None),
        ("https://10.1.2.3/", "10.0.0.0/8", None),
        ("https://11.1.2.3/", "10.0.0.0/8", PROXY),
        ("https://[::1]:8443/", "::1", None),
        ("http://up.example/", None, None),  # only HTTPS_PROXY is set
    ],
)
def test_proxy_for__no_proxy_rules(url: str, no_proxy: str | None, expected: str | None) -> None:
    config = SyncConfig(https_proxy=PROXY, no_proxy=no_proxy)
    assert proxy_for(httpx.URL(url), config) == expected


def test_settings__proxy_variables_in_either_case_and_never_echoed() -> None:
    settings = parse_settings({"https_proxy": "http://u:secret@p:3128", "NO_PROXY": "localhost"})
    assert settings.sync.https_proxy == "http://u:secret@p:3128"
    assert settings.sync.no_proxy == "localhost"
    assert "secret" not in repr(settings)
    with pytest.raises(ConfigError) as e:
        parse_settings({"HTTPS_PROXY": "u:secret@p:3128"})
    assert "secret" not in str(e.value) and "HTTPS_PROXY=http://" in str(e.value)


def test_settings__ca_bundle_from_variable_or_file() -> None:
    assert parse_settings({"BLOBPI_CA_BUNDLE": "a.pem"}).sync.ca_bundle == Path("a.pem")
    assert parse_settings({}, {"sync": {"ca-bundle": "b.pem"}}).sync.ca_bundle == Path("b.pem")
    with pytest.raises(ConfigError, match="has no key 'https-proxy'"):
        parse_settings({}, {"sync": {"https-proxy": PROXY}})  # a password has no place there


def _handshake(context: ssl.SSLContext, ca: trustme.CA) -> None:
    """A TLS handshake with a loopback server whose certificate ``ca`` signed."""
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(served)
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def _serve() -> None:
            conn, _ = listener.accept()
            with contextlib.suppress(OSError), served.wrap_socket(conn, server_side=True):
                pass

        thread = threading.Thread(target=_serve)
        thread.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                context.wrap_socket(raw, server_hostname="127.0.0.1").close()
        finally:
            thread.join(timeout=10)


def test_ssl_context__trusts_the_bundle_on_top_of_the_system_store(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "corp.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(ssl_context(), ca)
    _handshake(ssl_context(bundle), ca)


@pytest.mark.parametrize("content", [None, b"not a certificate"])
def test_ssl_context__bad_bundle_is_one_line(tmp_path: Path, content: bytes | None) -> None:
    bundle = tmp_path / "corp.pem"
    if content is not None:
        bundle.write_bytes(content)
    with pytest.raises(ConfigError, match="cannot load the CA bundle .*BLOBPI_CA_BUNDLE"):
        ssl_context(bundle)


def test_uv_network_args__same_trust_and_proxies() -> None:
    config = SyncConfig(ca_bundle=Path("corp.pem"), https_proxy=PROXY, no_proxy="localhost")
    args, env = uv_network_args(config)
    assert args == ["--system-certs", "--cert", "corp.pem"]
    assert env == {"HTTPS_PROXY": PROXY, "NO_PROXY": "localhost"}
