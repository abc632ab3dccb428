"""Origins (mirror/core/origins.py): which URLs the sync may fetch, and scrubbing secrets."""

from __future__ import annotations

import pytest

from blobpi.mirror.core.errors import ConfigError, ForeignOrigin
from blobpi.mirror.core.origins import Origins, origin_of

UPSTREAM = "https://bob:s%40cret-1@index.test/simple/"
ORIGINS = Origins.of(UPSTREAM, ["https://files.test:8443"])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://index.test/x", "https://index.test"),
        ("HTTPS://Index.TEST:443/x", "https://index.test"),
        ("http://index.test:80/x", "http://index.test"),
        ("http://index.test:8080/x", "http://index.test:8080"),
        ("http://u:p@[::1]:9/x", "http://[::1]:9"),
    ],
)
def test_origin_of__normalizes(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "http://index.test:99999/x",
        "http://index.test:port/x",
        "http://[::1/x",
        "http://index.test/a\x00b",
        "http://index.test/a b",
        "http://index.test/\x7f",
        "ftp://index.test/x",
        "file:///etc/passwd",
        "/relative/x",
        "http:///no-host",
    ],
)
def test_origin_of__refuses_what_is_not_an_http_origin(url: str) -> None:
    with pytest.raises(ConfigError):
        origin_of(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://index.test/packages/x.whl",
        "https://INDEX.test:443/packages/x.whl",
        "https://files.test:8443/x.whl",
    ],
)
def test_origins__allow_the_upstream_and_the_listed(url: str) -> None:
    ORIGINS.check(url, "f")


@pytest.mark.parametrize(
    "url",
    [
        "http://index.test/x",  # another scheme
        "https://index.test:444/x",  # another port
        "https://files.test/x",  # the listed host on another port
        "https://index.test.evil.example/x",
        "https://evil.example/index.test/x",
        "https://index.test@evil.example/x",  # user info that looks like the host
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/x",
        "http://index.test:99999/x",
    ],
)
def test_origins__refuse_every_other(url: str) -> None:
    with pytest.raises(ForeignOrigin, match="not fetched"):
        ORIGINS.check(url, "f")


@pytest.mark.parametrize(
    "text",
    [
        "GET https://bob:s%40cret-1@index.test/simple/x/ failed",
        "password s@cret-1 rejected",
        "quoted s%40cret-1",
        "and ftp://anyone:else@host/ too",
    ],
)
def test_origins__scrub_removes_user_info_and_the_secret(text: str) -> None:
    scrubbed = ORIGINS.scrub(text)
    assert "cret-1" not in scrubbed and "else@" not in scrubbed
    assert scrubbed.split()[0] == text.split()[0]  # the rest of the message stays
