"""Access control for the server: HTTP basic auth (RFC 7617) with blobpi tokens.

pip, uv, twine and Azure ML ``python_feed`` connections all speak basic auth, so the token
is the password and the user name is ignored (``__token__`` by convention). Policy:

- ``/health``, ``/health/live`` and ``/health/ready`` are always open (probes);
- ``POST /`` (the upload API) always needs a token with scope ``upload``;
- everything else needs scope ``read`` unless anonymous read is on
  (``BLOBPI_ANONYMOUS_READ``; by default on only when the server listens on loopback);
- a token limited to one project reads only that project: not the views of the whole index
  (the status overview ``/`` and ``/metrics``), which describe every project.

No or bad credentials raise ``Unauthenticated`` (401 with ``WWW-Authenticate``; bad ones
count as a failure against the client address); past ``BLOBPI_AUTH_FAILURE_LIMIT`` failures
a minute a *bad* credential from that address gets ``TooManyFailures`` (429), while a valid
one still passes: the limiter slows guessing, and one misconfigured client behind a NAT
cannot lock out everyone else. The client address is the peer's, or what a proxy in
``BLOBPI_TRUSTED_PROXIES`` forwards (``blobpi serve``; never a header from anyone else).
Wrong scope or project is ``AccessDenied`` (403); a token limited to one project reads only
that project's pages and files, the PEP 503 root (``/simple/``) shows it that project alone
(``visible_projects``), and every other path, one that names no project included, is
refused. Statuses and headers come from ``responses``, the one table.
Nothing here logs or echoes what the client sent.
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable

from packaging.utils import NormalizedName
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from blobpi.mirror.core.errors import (
    AccessDenied,
    InvalidName,
    MirrorError,
    TokenStoreUnreadable,
    TooManyFailures,
    Unauthenticated,
)
from blobpi.mirror.core.layout import file_name
from blobpi.mirror.core.names import parse_distribution_filename, project_name
from blobpi.mirror.ops.tokens import Scope as TokenScope
from blobpi.mirror.ops.tokens import Token, TokenFile, check_token
from blobpi.mirror.server.responses import error_response

__all__ = [
    "AuthMiddleware",
    "FailureLimiter",
    "TokenCache",
    "required_scope",
    "visible_projects",
]

log = logging.getLogger(__name__)

_PROBES = frozenset({"/health", "/health/live", "/health/ready"})
# The status overview and the metrics describe the whole index. (The PEP 503 root stays
# readable, as tests/integration/test_auth.py pins: installers never need it, tools may.)
_INDEX_WIDE = frozenset({"/", "/metrics"})
_USE_INTERVAL = dt.timedelta(hours=1)  # last use is recorded at most this often per token
_MAX_CLIENTS = 10_000
_ROOT_LISTING = "/simple/"  # the PEP 503 root: shown to a project's token with its project alone


def required_scope(method: str, path: str) -> TokenScope | None:
    """What a request needs (pure).

    >>> required_scope("POST", "/"), required_scope("GET", "/health")
    ('upload', None)
    """
    if path in _PROBES:
        return None
    if method == "POST" and path == "/":
        return "upload"
    return "read"


def path_project(path: str) -> NormalizedName | None:
    """The project a read names, if any, for tokens limited to one project (pure).

    >>> path_project("/packages/ab/cd/ef/Foo_Bar-1.0-py3-none-any.whl.metadata")
    'foo-bar'
    """
    try:
        if path.startswith(("/simple/", "/project/")) and path.count("/") == 3:
            return project_name(path.split("/")[2])
        if path.startswith("/packages/"):
            return parse_distribution_filename(file_name(path)).name
    except InvalidName:
        return None
    return None


def visible_projects(
    token: Token | None, projects: tuple[NormalizedName, ...]
) -> tuple[NormalizedName, ...]:
    """The projects a listing shows to ``token``: all of them, or only its own project.

    >>> visible_projects(None, ("a", "b"))
    ('a', 'b')
    """
    if token is None or not token.project:
        return projects
    return tuple(p for p in projects if p == token.project)


def basic_password(authorization: str | None) -> str | None:
    """The password of a basic ``Authorization`` header; the user name is ignored.

    >>> basic_password("Basic X190b2tlbl9fOnNlY3JldA==")
    'secret'
    """
    if not authorization:
        return None
    kind, _, encoded = authorization.partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon and password else None


class FailureLimiter:
    """Failed authentications per client address in a sliding window."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window, self._clock = limit, window, clock
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def _recent(self, client: str) -> collections.deque[float]:
        times = self._failures.get(client, collections.deque())
        while times and self._clock() - times[0] >= self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None if it may now."""
        times = self._recent(client)
        if len(times) < self.limit:
            return None
        return max(1, int(self.window - (self._clock() - times[0]) + 0.999))

    def fail(self, client: str) -> None:
        times = self._recent(client)
        times.append(self._clock())
        self._failures[client] = times
        self._failures.move_to_end(client)
        while len(self._failures) > _MAX_CLIENTS:  # bounded memory under a spray of addresses
            self._failures.popitem(last=False)


class TokenCache:
    """The tokens, kept in memory and revalidated against the blob's ETag after ``ttl``, so
    a revoked token stops working within ``ttl`` seconds on every replica."""

    def __init__(self, source: TokenFile, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.source, self._ttl, self._clock = source, ttl, clock
        self._tokens: dict[str, Token] = {}
        self._etag: str | None = None
        self._checked = float("-inf")
        self._recorded: dict[str, dt.datetime] = {}

    async def tokens(self) -> dict[str, Token]:
        if self._clock() - self._checked >= self._ttl:
            fresh = await self.source.read(if_none_match=self._etag or None)
            if fresh is not None:
                self._tokens, self._etag = fresh
            self._checked = self._clock()
        return self._tokens

    async def record_use(self, token: Token, now: dt.datetime) -> None:
        """Best effort: note the token's last use, at most once an hour. A lost race or a
        read-only role (the server may hold only Blob Data Reader) just skips it."""
        last = self._recorded.get(token.id) or token.last_used
        if last is not None and now - last < _USE_INTERVAL:
            return
        self._recorded[token.id] = now
        try:
            await self.source.update(lambda ts: _touched(ts, token.id, now), attempts=1)
        except MirrorError as e:
            log.debug("could not record the last use of token %s: %s", token.id, type(e).__name__)
        self._checked = float("-inf")  # our own write changed the ETag


def _touched(tokens: dict[str, Token], token_id: str, now: dt.datetime) -> dict[str, Token]:
    if token_id in tokens:
        tokens[token_id] = dataclasses.replace(tokens[token_id], last_used=now)
    return tokens


class AuthMiddleware:
    """Pure ASGI middleware (no body buffering), so uploads and downloads still stream.

    Reads ``app.state.tokens`` (a ``TokenCache``) and ``app.state.settings``; puts the
    caller's ``Token`` in ``scope["blobpi.token"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limiter: FailureLimiter | None = None
        self.anonymous_read: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self._check(scope)
        except MirrorError as e:  # outside Starlette's handlers, so answered from the table here
            metrics = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.auth_failure(e)
            await error_response(scope["method"], scope["path"], e)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> None:
        state = scope["app"].state
        settings = state.settings
        need = required_scope(scope["method"], scope["path"])
        if self.anonymous_read is None:  # a property that parses the host: once per app
            self.anonymous_read = settings.server.allows_anonymous_read
        if need is None or (need == "read" and self.anonymous_read):
            return
        if self.limiter is None:
            self.limiter = FailureLimiter(settings.server.auth_failure_limit)
        client = scope["client"][0] if scope.get("client") else "unknown"
        password = basic_password(Headers(scope=scope).get("authorization"))
        if password is None:
            raise Unauthenticated(
                f"authentication required ({need}): send a token as the password of HTTP "
                "basic auth, user __token__; create one with 'blobpi token create'"
            )
        cache: TokenCache = state.tokens
        try:
            tokens = await cache.tokens()
        except MirrorError as e:
            raise TokenStoreUnreadable(f"cannot check the token: {e}") from e
        token = check_token(tokens, password)
        now = dt.datetime.now(dt.UTC)
        if token is None or token.expired(now):
            # Checked first, counted after: a valid token passes even from a limited address.
            retry = self.limiter.retry_after(client)
            self.limiter.fail(client)
            if retry is not None:
                raise TooManyFailures(
                    "too many failed authentications from this address: wait, then retry "
                    "with a valid token",
                    retry,
                )
            why = (
                f"token {token.id} ({token.name!r}) expired at {token.expires:%Y-%m-%d %H:%M} UTC"
                if token is not None and token.expires is not None
                else "the token is not valid (unknown, revoked or mistyped)"
            )
            raise Unauthenticated(f"{why}: create a new one with 'blobpi token create'")
        if not token.allows(need):
            raise AccessDenied(
                f"token {token.id} ({token.name!r}) has scope {token.scope!r}, and this needs "
                f"{need!r}: create one with 'blobpi token create --scope {need}'",
            )
        if token.project and need == "read" and scope["path"] != _ROOT_LISTING:
            if scope["path"] in _INDEX_WIDE:
                raise AccessDenied(
                    f"token {token.id} ({token.name!r}) is limited to project "
                    f"{token.project!r}, and this page covers every project: read /simple/"
                    f"{token.project}/, or use a token without --project"
                )
            wanted = path_project(scope["path"])
            if wanted != token.project:
                raise AccessDenied(_project_message(token, wanted))
        scope["blobpi.token"] = token
        await cache.record_use(token, now)


def _project_message(token: Token, wanted: str | None) -> str:
    what = f"not {wanted!r}" if wanted else "and this path names no project"
    return (
        f"token {token.id} ({token.name!r}) is limited to project {token.project!r}, "
        f"{what}: use a token for that project, or one without --project"
    )


def check_project(token: Token | None, project: NormalizedName) -> None:
    """Raise ``AccessDenied`` if ``token`` may not upload to ``project``."""
    if token is not None and token.project and token.project != project:
        raise AccessDenied(_project_message(token, project))
