"""Build ``Settings`` from its sources: flags win over ``BLOBPI_*`` variables, variables over
``blobpi.toml``, the file over the defaults. Pure: a Mapping environ and a parsed TOML dict in.

Every key is in ``_KEYS`` once, with its variable, its file key and an example, so that every
bad value is the same one-line ``ConfigError``: where it came from, the value, and a good one.
An empty variable counts as unset (container apps cannot unset an inherited one).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from blobpi.mirror.core.durations import parse_duration
from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.core.names import project_name
from blobpi.mirror.core.origins import origin_of
from blobpi.mirror.core.settings import (
    BLOCK_LEVELS,
    AzureMLSettings,
    CurationConfig,
    Filters,
    LockConfig,
    ServerSettings,
    Settings,
    Shard,
    SyncConfig,
    platform_tags,
)
from blobpi.mirror.core.storagespec import storage_problem

__all__ = ["Origin", "explain_settings", "parse_settings", "parse_size"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_TABLES = {
    "": "",
    "server": "server",
    "sync": "sync",
    "filters": "sync",
    "lock": "lock",
    "curation": "curation",
}


def parse_size(raw: object) -> int:
    """A size in bytes, from a number or text with a binary unit.

    >>> parse_size("1.5 GiB")
    1610612736
    """
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    match = _SIZE_RE.match(raw) if isinstance(raw, str) else None
    if not match:
        raise ConfigError(f"size {raw!r} is not a size: use e.g. 500MB or 1GiB")
    return int(float(match[1]) * _UNITS[(match[2] or "")[:1].upper()])


def _text(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("is not a non-empty string")
    return raw.strip()


def _number(
    kind: type[int] | type[float], least: float = 0, most: float | None = None
) -> Callable[[object], float]:
    def parse(raw: object) -> float:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ValueError("is not a number (wrong type)")
        try:
            value = kind(raw.strip() if isinstance(raw, str) else raw)
        except ValueError:
            raise ValueError("is not a number (wrong type)") from None
        if value != raw and not isinstance(raw, str):  # 2.5 for a whole number
            raise ValueError("is not a whole number (wrong type)")
        if value < least or (most is not None and value > most):
            raise ValueError(f"is out of range ({least} to {most or 'any'})")
        return value

    return parse


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    value = raw.strip().lower() if isinstance(raw, str) else None
    if value not in _TRUE | _FALSE:
        raise ValueError("is not a boolean (1/0, true/false, yes/no, on/off)")
    return value in _TRUE


def _choice(*allowed: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        value = raw.strip().lower() if isinstance(raw, str) else None
        if value not in allowed:
            raise ValueError(f"is not one of {', '.join(allowed)}")
        return value

    return parse


def _size(raw: object) -> int:
    try:
        return parse_size(raw)
    except ConfigError:
        raise ValueError("is not a size") from None


def _strings(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) and v for v in raw):
        raise ValueError("is not a list of strings")
    return tuple(raw)


def _block(raw: object) -> str:
    value = _text(raw).lower()
    value = "moderate" if value == "medium" else value
    if value not in BLOCK_LEVELS:
        raise ValueError(f"is not one of {', '.join(BLOCK_LEVELS)}")
    return value


def _origins(raw: object) -> tuple[str, ...]:
    items = raw.replace(",", " ").split() if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(u, str) for u in items):
        raise ValueError("is not a list of origins")
    try:
        return tuple(origin_of(u.strip()) for u in items)
    except ConfigError:
        raise ValueError("has an entry that is not an http(s) origin") from None


def _share(raw: object) -> float:
    share = _FLOAT(raw)
    if not 0 <= share <= 1:
        raise ValueError("is not a share between 0 and 1")
    return share


def _networks(raw: object) -> tuple[str, ...]:
    items = raw.replace(",", " ").split() if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(n, str) for n in items):
        raise ValueError("is not a list of addresses")
    try:
        return tuple(str(ipaddress.ip_network(n.strip(), strict=False)) for n in items)
    except ValueError:
        raise ValueError("has an entry that is not an IP address or network") from None


def _lifetime(raw: object) -> dt.timedelta:
    """A redirect's SAS lifetime: long enough to start a download after the redirect, short
    enough that a leaked URL soon stops working."""
    try:
        lifetime = parse_duration(raw if isinstance(raw, str) else "")
    except ConfigError:
        raise ValueError("is not a duration") from None
    if not dt.timedelta(minutes=5) <= lifetime <= dt.timedelta(days=1):
        raise ValueError("is out of range (5m to 1d)")
    return lifetime


def _shard(raw: object) -> Shard:
    try:
        return Shard.parse(str(raw))
    except ConfigError:
        raise ValueError("is not K/N with 1 <= K <= N") from None


def _names(raw: object) -> frozenset[str]:
    items = raw.replace(",", " ").split() if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(n, str) for n in items):
        raise ValueError("is not a list of project names")
    try:
        return frozenset(project_name(n.strip()) for n in items)
    except ValueError:
        raise ValueError("has a name that is not a valid project name") from None


@dataclasses.dataclass(frozen=True, slots=True)
class _Key:
    part: str  # "" for the top level, else the Settings part ("filters" is sync's)
    field: str
    parse: Callable[[object], object]
    example: str  # as a variable or flag takes it; the file takes the TOML literal of it
    env: str | None = None
    in_file: bool = True  # secrets are not: a file is committed, copied and printed
    aliases: tuple[str, ...] = ()  # other variables with the same meaning (https_proxy)
    echo: bool = True  # False: a bad value is not repeated in errors (it may hold a password)

    @property
    def toml(self) -> str | None:
        """The key in the part's ``blobpi.toml`` table: the field's name, with ``-``."""
        return self.field.replace("_", "-") if self.in_file else None


def _storage(raw: object) -> str:
    text = _text(raw)
    problem = storage_problem(text)
    if problem:  # a whole reason and fix: the caller prefixes where the value came from
        raise ConfigError(problem)
    return text


def _upstream(raw: object) -> str:
    text = _text(raw)
    if not re.match(r"^https?://[^/\s?#]+", text, re.IGNORECASE):
        # without a scheme every project fetch would fail and be retried, for minutes
        raise ValueError("is not an http(s) URL of a simple index")
    return text


def _proxy(raw: object) -> str:
    text = _text(raw)
    if not re.match(r"^(https?|socks5h?)://[^/\s]+/?$", text):
        # no echo of the value: a proxy URL may hold a password
        raise ValueError("is not a proxy URL (http://HOST:PORT)")
    return text


_INT, _FLOAT = _number(int), _number(float)
_PROXY = "http://proxy.corp.example:3128"
_URL = "https://pkgs.example.org/simple/"
_AZURE = "AZURE_STORAGE_CONNECTION_STRING"  # read by blobpi (an account key), not the SDK
_AI = "APPLICATIONINSIGHTS_CONNECTION_STRING"
_KEYS = (
    _Key("", "storage", _storage, "./data", "BLOBPI_STORAGE"),
    _Key("", "storage_connection_string", _text, "'AccountName=...'", _AZURE, in_file=False),
    _Key("", "shared_names", _names, "internal-tools", "BLOBPI_SHARED_NAMES"),
    _Key("server", "host", _text, "0.0.0.0", "BLOBPI_HOST"),
    _Key("server", "port", _number(int, 0, 65535), "8080", "BLOBPI_PORT"),
    _Key("server", "page_ttl", _FLOAT, "2", "BLOBPI_PAGE_TTL"),
    _Key("server", "http_server", _choice("granian", "uvicorn"), "uvicorn", "BLOBPI_HTTP_SERVER"),
    _Key("server", "workers", _number(int, 1, 256), "4", "BLOBPI_WORKERS"),
    _Key("server", "access_log", _bool, "false", "BLOBPI_ACCESS_LOG"),
    _Key("server", "max_upload_bytes", _size, "1GiB", "BLOBPI_MAX_UPLOAD_BYTES"),
    _Key("server", "anonymous_read", _bool, "true", "BLOBPI_ANONYMOUS_READ"),
    _Key("server", "token_file", _text, "tokens.json", "BLOBPI_TOKEN_FILE"),
    _Key("server", "auth_failure_limit", _INT, "10", "BLOBPI_AUTH_FAILURE_LIMIT"),
    # The Azure Monitor distro's own variable; a secret (its key may ingest data)
    _Key("server", "telemetry", _text, "'InstrumentationKey=...'", _AI, in_file=False),
    _Key("server", "trusted_proxies", _networks, "10.0.0.0/16", "BLOBPI_TRUSTED_PROXIES"),
    _Key("server", "header_timeout", _number(float, 0.001), "10", "BLOBPI_HEADER_TIMEOUT"),
    _Key("server", "body_timeout", _number(float, 0.001), "30", "BLOBPI_BODY_TIMEOUT"),
    _Key("server", "downloads", _choice("stream", "redirect"), "redirect", "BLOBPI_DOWNLOADS"),
    _Key("server", "redirect_lifetime", _lifetime, "15m", "BLOBPI_REDIRECT_LIFETIME"),
    _Key("sync", "upstream", _upstream, _URL, "BLOBPI_UPSTREAM"),
    _Key("sync", "allowlist", lambda raw: Path(_text(raw)), "allowlist.txt", "BLOBPI_ALLOWLIST"),
    _Key("sync", "shard", _shard, "1/4", "BLOBPI_SHARD"),
    _Key("sync", "concurrency", _number(int, 1), "8"),
    _Key("sync", "grace_hours", _FLOAT, "168"),
    _Key("sync", "timeout", _number(float, 0.001), "60"),
    _Key("sync", "retries", _INT, "4"),
    _Key("sync", "backoff", _FLOAT, "0.5"),
    _Key("sync", "ca_bundle", lambda raw: Path(_text(raw)), "corp-ca.pem", "BLOBPI_CA_BUNDLE"),
    # The variables every HTTP client honours (curl, pip, uv): not BLOBPI_ ones, on purpose.
    _Key(
        "sync",
        "https_proxy",
        _proxy,
        _PROXY,
        "HTTPS_PROXY",
        in_file=False,
        aliases=("https_proxy",),
        echo=False,
    ),  # fmt: skip
    _Key(
        "sync",
        "http_proxy",
        _proxy,
        _PROXY,
        "HTTP_PROXY",
        in_file=False,
        aliases=("http_proxy",),
        echo=False,
    ),  # fmt: skip
    _Key("sync", "no_proxy", _text, "localhost,.corp.example", "NO_PROXY", aliases=("no_proxy",)),
    _Key(
        "sync", "upstream_origins", _origins, "https://files.example.org", "BLOBPI_UPSTREAM_ORIGINS"
    ),
    _Key("sync", "max_removal_share", _share, "0.25", "BLOBPI_MAX_REMOVAL_SHARE"),
    _Key("filters", "python_versions", _strings, '["3.12"]'),
    _Key("filters", "platform_tags", _strings, '["any", "manylinux*_x86_64"]'),
    _Key("filters", "sdists", _bool, "true"),
    _Key("filters", "prereleases", _bool, "false"),
    _Key("filters", "latest", _INT, "2"),
    _Key("filters", "max_file_size", _size, "1GiB"),
    _Key("filters", "min_age_hours", _FLOAT, "24"),
    _Key("lock", "python_versions", _strings, '["3.12"]'),
    _Key("lock", "platforms", _strings, '["x86_64-manylinux_2_28"]'),
    _Key("curation", "osv_url", _text, "https://osv.example.org/PyPI/all.zip", "BLOBPI_OSV_URL"),
    _Key("curation", "block_severity", _block, "high", "BLOBPI_BLOCK_SEVERITY"),
    _Key("azureml", "feed_secret", _text, "'a read token'", "BLOBPI_FEED_SECRET", in_file=False),
)


def _flag(key: _Key) -> str:
    return "--" + key.field.replace("_", "-")


def _toml_literal(example: str) -> str:
    if example[:1] in "[\"'" or example in ("true", "false") or re.fullmatch(r"[\d.]+", example):
        return example
    return f'"{example}"'


def _candidates(
    key: _Key, environ: Mapping[str, str], file: Mapping[str, Any], flags: Mapping[str, object]
) -> list[tuple[str, object, str]]:
    """Every source that sets ``key``, the winner first: (source, raw value, how to name it)."""
    found: list[tuple[str, object, str]] = []
    path = f"{key.part}.{key.field}" if key.part else key.field
    if flags.get(path) is not None:
        found.append(("flag", flags[path], f"{_flag(key)} {{}}"))
    for env in (key.env, *key.aliases) if key.env else ():
        if environ.get(env, "").strip():  # the first one set; aliases are other spellings
            found.append(("environment", environ[env], f"{env}={{}}"))
            break
    table = file.get(_TABLES.get(key.part, key.part), {}) if key.part else file
    if key.toml and key.toml in table:
        section = f"[{_TABLES[key.part]}] " if key.part else ""
        found.append(("blobpi.toml", table[key.toml], f"blobpi.toml {section}{key.toml} = {{}}"))
    return found


def _pick(
    key: _Key, environ: Mapping[str, str], file: Mapping[str, Any], flags: Mapping[str, object]
) -> tuple[object, str] | None:
    """The winning raw value and how to name where it came from, or None for the default."""
    found = _candidates(key, environ, file, flags)
    return (found[0][1], found[0][2]) if found else None


def _check_tables(file: Mapping[str, Any]) -> None:
    """Unknown tables and keys are errors: a typo must not silently keep the default."""
    known: dict[str, set[str]] = defaultdict(set)
    for key in _KEYS:
        if key.toml:
            known[_TABLES[key.part]].add(key.toml)
    for name, value in file.items():
        if isinstance(value, dict) and name in known:
            unknown = sorted(set(value) - known[name])
            if unknown:
                raise ConfigError(
                    f"blobpi.toml [{name}] has no key {unknown[0]!r}: "
                    f"use one of {', '.join(sorted(known[name]))}"
                )
        elif name not in known[""]:
            tables = ", ".join(f"[{t}]" for t in sorted(known) if t)
            raise ConfigError(f"blobpi.toml has no setting {name!r}: use {tables} or storage")


def parse_settings(
    environ: Mapping[str, str],
    file: Mapping[str, Any] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Settings:
    """``Settings`` from variables, the parsed ``blobpi.toml`` and flags (keyed by field path).

    >>> parse_settings({"BLOBPI_PORT": "9000"}, {"server": {"port": 8000}}).server.port
    9000
    """
    file, flags = file or {}, flags or {}
    _check_tables(file)
    parts: dict[str, dict[str, Any]] = defaultdict(dict)
    for key in _KEYS:
        picked = _pick(key, environ, file, flags)
        if picked is None:
            continue
        raw, where = picked
        shown = repr(raw) if key.echo else "'***'"
        try:
            parts[key.part][key.field] = key.parse(raw)
        except ConfigError as e:  # a reason with its own fix
            raise ConfigError(f"{where.format(shown)} {e}") from None
        except ValueError as e:
            good = _toml_literal(key.example) if where.startswith("blobpi.toml") else key.example
            # Secrets cannot get here: any non-blank text is a valid one, so none is echoed.
            raise ConfigError(f"{where.format(shown)} {e}: set e.g. {where.format(good)}") from None
    lock = LockConfig(**parts["lock"])
    parts["filters"].setdefault("python_versions", lock.python_versions)
    parts["filters"].setdefault("platform_tags", platform_tags(lock.platforms))
    if "upstream" not in parts["sync"] and environ.get("PIP_INDEX_URL", "").strip():
        parts["sync"]["upstream"] = environ["PIP_INDEX_URL"].split()[0]  # pip's own index
    return Settings(
        **parts[""],
        server=ServerSettings(**parts["server"]),
        sync=SyncConfig(filters=Filters(**parts["filters"]), **parts["sync"]),
        lock=lock,
        curation=CurationConfig(**parts["curation"]),
        azureml=AzureMLSettings(**parts["azureml"]),
        environ=dict(environ),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """Where one setting's value came from, for ``blobpi config show``."""

    setting: str  # the field's path in Settings, e.g. "server.port"
    variable: str | None
    file_key: str | None  # e.g. "[server] port"; None for secrets, never read from the file
    source: str  # the winner: "flag", "environment", "blobpi.toml" or "default"
    given: Mapping[str, str]  # every source that set it -> its raw text (secrets masked)
    secret: bool


def explain_settings(
    environ: Mapping[str, str],
    file: Mapping[str, Any] | None = None,
    flags: Mapping[str, object] | None = None,
) -> list[Origin]:
    """Which source won for every key, and what each source said; secrets show as ``***``.

    >>> [o.source for o in explain_settings({"BLOBPI_PORT": "9"}, {"server": {"port": 8}})
    ...  if o.setting == "server.port"]
    ['environment']
    """
    file, flags = file or {}, flags or {}
    origins = []
    for key in _KEYS:
        found = _candidates(key, environ, file, flags)
        variable = key.env
        if found and found[0][0] == "environment":  # the spelling that was set (an alias?)
            variable = found[0][2].split("=")[0]
        if key.field == "upstream" and not found and environ.get("PIP_INDEX_URL", "").strip():
            variable = "PIP_INDEX_URL"  # pip's own index, as parse_settings takes it
            found = [("environment", environ["PIP_INDEX_URL"].split()[0], "")]
        secret = not key.in_file
        part = "sync.filters" if key.part == "filters" else key.part
        section = f"[{_TABLES[key.part]}] " if key.part and key.toml else ""
        origins.append(
            Origin(
                setting=f"{part}.{key.field}" if part else key.field,
                variable=variable,
                file_key=f"{section}{key.toml}" if key.toml else None,
                source=found[0][0] if found else "default",
                given={src: "***" if secret else str(raw) for src, raw, _ in found},
                secret=secret,
            )
        )
    return origins
