"""Access tokens: created once, stored only as a salted hash, checked in constant time.

A token reads ``bpi_<id>_<secret>``: ``<id>`` (12 hex digits) is the public lookup key,
``<secret>`` 32 random bytes (``secrets.token_urlsafe``). The store keeps, per token, a
random salt and ``HMAC-SHA256(salt, secret)``, never the secret. A slow KDF protects
guessable passwords; a 256-bit random secret cannot be guessed, so a keyed hash is as strong
and costs microseconds per request instead of milliseconds.

Clients send the token as the password of HTTP basic auth (RFC 7617), any user name or
``__token__``, the convention twine, uv and pip share. The tokens live in one JSON blob,
``state/tokens.json`` in the container, or in a file (``BLOBPI_TOKEN_FILE``); every change
is a compare-and-swap on its ETag, so the CLI and the servers never lose each other's writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from packaging.utils import NormalizedName

from blobpi.mirror.core.durations import parse_duration
from blobpi.mirror.core.errors import BlobNotFound, ConfigError
from blobpi.mirror.core.layout import tokens_path
from blobpi.mirror.core.model import format_upload_time, parse_upload_time
from blobpi.mirror.store.cas import ATTEMPTS, Codec, compare_and_swap
from blobpi.mirror.store.protocol import BlobStore

__all__ = [
    "add_token",
    "Scope",
    "Token",
    "TokenFile",
    "check_token",
    "find_token",
    "new_token",
    "parse_duration",
    "scope_of",
]

Scope = Literal["read", "upload"]
SCOPES: tuple[Scope, ...] = ("read", "upload")
_PREFIX = "bpi_"
_ID_HEX = 12


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Token:
    id: str  # the public half of the token: its lookup key, safe to print
    name: str
    scope: Scope  # read: pages and files; upload: also POST / (upload implies read)
    salt: str  # hex, random per token
    digest: str  # hex HMAC-SHA256(salt, secret)
    created: dt.datetime
    expires: dt.datetime | None = None
    project: NormalizedName | None = None  # when set, the only project the token may touch
    last_used: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown token scope {self.scope!r}")

    def allows(self, scope: Scope) -> bool:
        return self.scope == "upload" or scope == "read"

    def expired(self, now: dt.datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def to_json(self) -> dict[str, Any]:
        raw = dataclasses.asdict(self)
        for key in ("created", "expires", "last_used"):
            value = getattr(self, key)
            raw[key] = format_upload_time(value) if value is not None else None
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Token:
        fields = dict(raw)
        for key in ("created", "expires", "last_used"):
            fields[key] = parse_upload_time(fields.get(key))
        return cls(**fields)


def new_token(
    name: str,
    scope: Scope,
    *,
    now: dt.datetime,
    lifetime: dt.timedelta | None = None,
    project: NormalizedName | None = None,
) -> tuple[str, Token]:
    """A fresh token: the string to hand out once, and the record to store."""
    token_id, secret = secrets.token_hex(_ID_HEX // 2), secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    record = Token(
        id=token_id,
        name=name,
        scope=scope,
        salt=salt,
        digest=_digest(salt, secret),
        created=now,
        expires=now + lifetime if lifetime else None,
        project=project,
    )
    return f"{_PREFIX}{token_id}_{secret}", record


def check_token(tokens: Mapping[str, Token], presented: str) -> Token | None:
    """The stored token that ``presented`` is, or None (pure; expiry is the caller's).

    The hash is compared with ``hmac.compare_digest``, so the time taken says nothing
    about how much of a guess was right.

    >>> secret, record = new_token("ci", "read", now=dt.datetime.now(dt.UTC))
    >>> check_token({record.id: record}, secret) == record
    True
    >>> check_token({record.id: record}, secret[:-1] + "x") is None
    True
    """
    head, secret = presented[: len(_PREFIX) + _ID_HEX + 1], presented[len(_PREFIX) + _ID_HEX + 1 :]
    token = tokens.get(head[len(_PREFIX) : -1]) if head.startswith(_PREFIX) else None
    if token is None or not head.endswith("_"):
        # Same work as a real check, so an unknown id is not told apart by timing.
        hmac.compare_digest(_digest("00" * 16, secret), "0" * 64)
        return None
    return token if hmac.compare_digest(_digest(token.salt, secret), token.digest) else None


def _dump(tokens: Mapping[str, Token]) -> bytes:
    body = {"version": 1, "tokens": [t.to_json() for t in sorted(tokens.values(), key=_key)]}
    return json.dumps(body, indent=1).encode()


def _key(token: Token) -> tuple[dt.datetime, str]:
    return token.created, token.id


def _load(data: bytes) -> dict[str, Token]:
    raw = json.loads(data)
    entries = raw.get("tokens", []) if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not all(isinstance(t, dict) for t in entries):
        raise ValueError("not an object with a list of tokens")
    return {t["id"]: Token.from_json(t) for t in entries}


class TokenFile:
    """Where the tokens live: a blob in the container, or a file of its own."""

    def __init__(self, store: BlobStore, path: str, owned: bool = False) -> None:
        self.store, self.path, self._owned = store, path, owned

    @classmethod
    def open(cls, store: BlobStore, token_file: str | None) -> TokenFile:
        """``token_file`` (``BLOBPI_TOKEN_FILE``) if set, else ``state/tokens.json``."""
        if not token_file:
            return cls(store, tokens_path())
        from blobpi.mirror.store.local import LocalStore

        path = Path(token_file)
        if not path.name:
            raise ConfigError(f"BLOBPI_TOKEN_FILE={token_file!r} must name a file")
        return cls(LocalStore(path.parent), path.name, owned=True)

    @property
    def description(self) -> str:
        return f"{self.path} in {self.store.description}"

    async def read(self, if_none_match: str | None = None) -> tuple[dict[str, Token], str] | None:
        """The tokens and the ETag; None when unchanged since ``if_none_match``."""
        try:
            blob = await self.store.get(self.path, if_none_match=if_none_match)
        except BlobNotFound:
            return {}, ""
        if blob is None:
            return None
        return self._parse(blob.data), blob.info.etag

    def _parse(self, data: bytes | None) -> dict[str, Token]:
        if data is None:
            return {}
        try:
            return _load(data)
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(
                f"the token store {self.description} is corrupt ({type(e).__name__}): "
                "restore it from a backup, or delete it and create new tokens"
            ) from None

    async def write(self, tokens: Mapping[str, Token], etag: str) -> str:
        """Replace the tokens if unchanged since ``etag`` ("" for none); the new ETag."""
        info = await self.store.put(
            self.path,
            _dump(tokens),
            create_only=not etag,
            if_match=etag or None,
            content_type="application/json",
        )
        return info.etag

    async def update(
        self, change: Callable[[dict[str, Token]], dict[str, Token]], attempts: int = ATTEMPTS
    ) -> dict[str, Token]:
        """Read-modify-write by compare-and-swap, retried when another writer got there first."""
        if self._owned:
            await self.store.ensure()
        codec = Codec(self._parse, _dump)
        _, after = await compare_and_swap(
            self.store, self.path, codec, lambda ts: change(dict(ts)), attempts=attempts
        )
        return after

    async def close(self) -> None:
        if self._owned:
            await self.store.close()


def add_token(tokens: Mapping[str, Token], record: Token) -> dict[str, Token]:
    """``tokens`` with ``record``; a name already in use is refused, so that a name keeps
    naming one token (``find_token``, ``blobpi token revoke NAME``)."""
    taken = next((t for t in tokens.values() if t.name == record.name), None)
    if taken is not None:
        raise ConfigError(
            f"a token named {record.name!r} exists (id {taken.id}): revoke it first "
            f"(blobpi token revoke {taken.id}) or pick another --name"
        )
    return {**tokens, record.id: record}


def find_token(tokens: Mapping[str, Token], id_or_name: str) -> Token:
    """The token with this id, or the one token with this name."""
    if id_or_name in tokens:
        return tokens[id_or_name]
    named = [t for t in tokens.values() if t.name == id_or_name]
    if len(named) == 1:
        return named[0]
    what = "no token" if not named else f"{len(named)} tokens"
    raise ConfigError(f"{what} named {id_or_name!r}: pass the id that 'blobpi token list' shows")


def scope_of(raw: str) -> Scope:
    if raw not in SCOPES:
        raise ConfigError(f"unknown scope {raw!r}: use read or upload")
    return raw
