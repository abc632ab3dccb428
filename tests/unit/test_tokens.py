"""Tokens (mirror/tokens.py) and the pure parts of auth (mirror/auth.py): hashing, checks,
expiry, scopes, parsing of what clients send, and the failure limiter."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.ops.tokens import (
    Token,
    _dump,
    _load,
    add_token,
    check_token,
    find_token,
    new_token,
    parse_duration,
)
from blobpi.mirror.server.auth import FailureLimiter, basic_password, path_project, required_scope

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_tokens__roundtrip_and_only_a_salted_hash_is_stored() -> None:
    secret, record = new_token("ci", "upload", now=NOW, lifetime=dt.timedelta(days=1))
    assert check_token({record.id: record}, secret) == record
    stored = _dump({record.id: record}).decode()
    assert secret.split("_", 2)[2] not in stored and record.digest in stored
    assert _load(stored.encode()) == {record.id: record}
    assert record.expires == NOW + dt.timedelta(days=1)


def test_tokens__same_secret_different_salt_different_digest() -> None:
    _, a = new_token("a", "read", now=NOW)
    _, b = new_token("b", "read", now=NOW)
    assert a.salt != b.salt and a.digest != b.digest


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),  # one character off
        lambda s: s[:-1],  # truncated
        lambda s: s + "x",  # extended
        lambda s: "",
        lambda s: "bpi_",
        lambda s: s.replace("bpi_", "xyz_"),  # wrong prefix
        lambda s: s[:16] + s[17:],  # no separator after the id
        lambda s: "bpi_000000000000_" + s[17:],  # unknown id, right secret
    ],
)
def test_tokens__check_rejects_near_misses(mangle: object) -> None:
    secret, record = new_token("ci", "read", now=NOW)
    assert check_token({record.id: record}, mangle(secret)) is None  # type: ignore[operator]


@pytest.mark.parametrize(
    ("scope", "need", "allowed"),
    [
        ("read", "read", True),
        ("read", "upload", False),
        ("upload", "read", True),
        ("upload", "upload", True),
    ],
)
def test_tokens__scopes(scope: str, need: str, allowed: bool) -> None:
    _, record = new_token("t", scope, now=NOW)  # type: ignore[arg-type]
    assert record.allows(need) is allowed  # type: ignore[arg-type]


def test_tokens__expiry_is_exclusive_of_the_instant() -> None:
    _, record = new_token("t", "read", now=NOW, lifetime=dt.timedelta(hours=1))
    assert not record.expired(NOW + dt.timedelta(minutes=59))
    assert record.expired(NOW + dt.timedelta(hours=1))
    _, forever = new_token("t", "read", now=NOW)
    assert not forever.expired(NOW + dt.timedelta(days=10_000))


def test_tokens__unknown_scope_is_refused() -> None:
    _, record = new_token("t", "read", now=NOW)
    raw = record.to_json() | {"scope": "admin"}
    with pytest.raises(ValueError, match="scope"):
        Token.from_json(json.loads(json.dumps(raw)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12h", dt.timedelta(hours=12)), ("90d", dt.timedelta(days=90)), ("2w", dt.timedelta(14))],
)
def test_tokens__parse_duration(raw: str, expected: dt.timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["", "0d", "90", "d", "-1d", "1y", "1.5d"])
def test_tokens__parse_duration_refuses(raw: str) -> None:
    with pytest.raises(ConfigError, match="--expires .* is not a duration"):
        parse_duration(raw)


def test_tokens__find_by_id_or_unique_name() -> None:
    _, a = new_token("ci", "read", now=NOW)
    _, b = new_token("dup", "read", now=NOW)
    _, c = new_token("dup", "read", now=NOW)
    tokens = {t.id: t for t in (a, b, c)}
    assert find_token(tokens, a.id) == a and find_token(tokens, "ci") == a
    with pytest.raises(ConfigError, match="2 tokens named 'dup'"):
        find_token(tokens, "dup")
    with pytest.raises(ConfigError, match="no token"):
        find_token(tokens, "nope")


@pytest.mark.parametrize(
    ("header", "password"),
    [
        (_basic("__token__", "s3cret"), "s3cret"),
        (_basic("anyone", "a:b"), "a:b"),  # only the first colon separates
        ("basic " + base64.b64encode(b"u:p").decode(), "p"),
        (_basic("__token__", ""), None),
        ("Bearer abc", None),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"nocolon").decode(), None),
        ("Basic " + base64.b64encode(b"u:\xff").decode(), None),
        ("", None),
        (None, None),
    ],
)
def test_auth__basic_password(header: str | None, password: str | None) -> None:
    assert basic_password(header) == password


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/health", None),
        ("POST", "/", "upload"),
        ("GET", "/", "read"),
        ("GET", "/simple/", "read"),
        ("HEAD", "/packages/a/b/c/x-1.0.tar.gz", "read"),
        ("POST", "/simple/", "read"),
    ],
)
def test_auth__required_scope(method: str, path: str, scope: str | None) -> None:
    assert required_scope(method, path) == scope


@pytest.mark.parametrize(
    ("path", "project"),
    [
        ("/simple/Foo.Bar/", "foo-bar"),
        ("/simple/", None),
        ("/packages/ab/cd/ef/foo_bar-1.0.tar.gz", "foo-bar"),
        ("/packages/ab/cd/ef/foo_bar-1.0-py3-none-any.whl.metadata", "foo-bar"),
        ("/packages/ab/cd/ef/not-a-dist.txt", None),
        ("/simple/..%2f/", None),
    ],
)
def test_auth__path_project(path: str, project: str | None) -> None:
    assert path_project(path) == project


def test_auth__failure_limiter_window() -> None:
    now = [0.0]
    limiter = FailureLimiter(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.fail("a")
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") is None  # per client
    now[0] = 59.5
    assert limiter.retry_after("a") == 1
    now[0] = 60.0
    assert limiter.retry_after("a") is None


def test_add_token__a_name_in_use_is_refused() -> None:
    _, first = new_token("ci", "read", now=NOW)
    _, second = new_token("ci", "upload", now=NOW)
    _, other = new_token("deploy", "read", now=NOW)
    tokens = add_token({}, first)
    assert add_token(tokens, other) == {first.id: first, other.id: other}
    with pytest.raises(ConfigError) as raised:
        add_token(tokens, second)
    assert str(raised.value) == (
        f"a token named 'ci' exists (id {first.id}): revoke it first "
        f"(blobpi token revoke {first.id}) or pick another --name"
    )


def test_cli_token_create__twice_with_one_name_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from blobpi.mirror.cli.main import main

    argv = ["token", "create", "--name", "ci", "--scope", "read", "--storage", str(tmp_path)]
    env = {"BLOBPI_TOKEN_FILE": str(tmp_path / "tokens.json")}
    assert main(argv, environ=env) == 0
    capsys.readouterr()
    assert main(argv, environ=env) == 1
    err = capsys.readouterr().err
    assert err.startswith("blobpi: error: a token named 'ci' exists") and err.count("\n") == 1
    assert len(json.loads((tmp_path / "tokens.json").read_text())["tokens"]) == 1
