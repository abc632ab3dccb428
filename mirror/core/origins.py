"""Where the sync may fetch from, and the credentials that must never leave a request.

An origin is RFC 6454's (scheme, host, port), written ``scheme://host:port`` with the default
port dropped and the host lower-cased. The sync fetches only from the configured upstream's
origin and the origins the operator lists (``upstream_origins``): every URL a page names
(files, ``.metadata``, provenance) and every redirect hop is checked here before a request
is sent, so a hostile page cannot make the sync read an internal service (SSRF). The
upstream URL's user info is a secret: ``Origins.scrub`` removes it, and any URL's user info
and query, from text before it reaches a message, a log or a report.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

from blobpi.mirror.core.errors import ConfigError, ForeignOrigin

__all__ = ["Origins", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Control characters and spaces: an URL with one is refused, never "cleaned" into another URL.
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
# scheme://user:secret@ in any text; the user info is replaced, the rest kept for the reader.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"]*@")


def origin_of(url: str) -> str:
    """The origin of an absolute http(s) URL, or a ``ConfigError`` saying why it has none.

    >>> origin_of("https://User:pw@Files.Example.org:443/a/b?x")
    'https://files.example.org'
    >>> origin_of("http://127.0.0.1:8080/simple/")
    'http://127.0.0.1:8080'
    """
    if _UNSAFE.search(url):
        raise ConfigError(f"URL {_redacted(url)!r} has a space or control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"URL {_redacted(url)!r} is malformed ({e})") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host:
        raise ConfigError(f"URL {_redacted(url)!r} is not an absolute http(s) URL")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _redacted(url: str) -> str:
    """``url`` without user info or query, for a message (no parsing that could fail)."""
    return _USERINFO.sub(r"\1", url).split("?")[0].split("#")[0][:200]


@dataclasses.dataclass(frozen=True, slots=True)
class Origins:
    """The origins one sync may fetch from, and the secrets to scrub from what it says."""

    allowed: frozenset[str]
    secrets: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    @classmethod
    def of(cls, upstream: str, extra: Iterable[str] = ()) -> Origins:
        """The upstream's origin plus ``extra``; the upstream's user info becomes a secret.

        >>> sorted(Origins.of("https://u:p@idx.example/simple/", ["https://files.example"]).allowed)
        ['https://files.example', 'https://idx.example']
        """
        parts = urlsplit(upstream)
        secrets = []
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            user, _, password = userinfo.partition(":")
            # Each may appear raw, percent-decoded or re-encoded in a library's message.
            for value in (userinfo, password, unquote(password), quote(unquote(password))):
                if len(value) >= 4:  # shorter would scrub ordinary words
                    secrets.append(value)
        ordered = sorted(set(secrets), key=len, reverse=True)  # the longest first
        return cls(frozenset({origin_of(upstream), *map(origin_of, extra)}), tuple(ordered))

    def check(self, url: str, what: str) -> None:
        """Refuse ``url`` (``what`` names it) unless its origin is allowed."""
        try:
            origin = origin_of(url)
        except ConfigError as e:
            raise ForeignOrigin(f"{what}: {e}: not fetched") from None
        if origin not in self.allowed:
            raise ForeignOrigin(
                f"{what}: {_redacted(url)!r} {refused_on(origin)} "
                f"({', '.join(sorted(self.allowed))}): not fetched; {allow_hint(origin)}",
                origin,
            )

    def scrub(self, text: str) -> str:
        """``text`` without any URL's user info and without the upstream's secrets.

        >>> Origins.of("https://bob:s3cret@idx.example/").scrub("https://bob:s3cret@x/ s3cret")
        'https://x/ ***'
        """
        text = _USERINFO.sub(r"\1", text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def refused_on(origin: str) -> str:
    """How a refusal names the origin it refused (``ForeignOrigin``; the sync's summary of
    many refusals finds them by it)."""
    return f"is on {origin}, not on an allowed origin"


def allow_hint(origin: str) -> str:
    """The fix for a refused origin, ready to paste."""
    return (
        f"if {origin} is the upstream's own files host, allow it: "
        f"BLOBPI_UPSTREAM_ORIGINS={origin} (python -m blobpi.sync.io.discover PROJECT lists "
        "the hosts a project's page links files on)"
    )
