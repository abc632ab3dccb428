"""``/metrics``: Prometheus metrics of one server process, through ``prometheus_client``.

Requests by route and status, latency histograms per route, bytes of bodies sent, page cache
lookups (hit, miss, revalidated), refused authentications by reason, and the sync's figures
from the history record the sync job keeps in ``state/`` (``mirror/core/history.py``):
last success time and age, last run's duration, files, bytes and failures, per shard.

Every label value comes from a fixed set: a route template of the app's own routing table
(never the requested path), one of ``GET HEAD POST other`` (never the raw method), a status
code the server chose, a shard from the configuration. Requests are counted before auth, so
a refused one is counted too, and bounded labels keep that from growing the output.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from blobpi.mirror.core.history import SyncRun, latest, parse_runs

__all__ = ["CONTENT_TYPE", "METHODS", "Metrics", "MetricsMiddleware", "route_label"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METHODS = frozenset({"GET", "HEAD", "POST"})
# seconds: a cached page answers in well under a millisecond, a large download takes minutes
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)


def route_label(scope: Scope) -> str:
    """The template of the route ``scope`` matches in its app (``/simple/{project}/``), or
    ``other``: what a label may say about a path."""
    path = str(scope.get("path", ""))
    # The hot routes by prefix (what the scan below finds for them): scanning every route
    # per request cost about a third of a cached page's answer.
    if path == "/simple/":
        return "/simple/"
    if path.startswith("/packages/"):
        return "/packages/{path:path}"
    if path.startswith("/simple/") and path.endswith("/") and path.count("/") == 3:
        if len(path) > len("/simple//"):
            return "/simple/{project}/"
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(getattr(route, "path", "other"))
    return "other"


class _SyncCollector(Collector):
    """Gauges from the last history snapshot the ``/metrics`` handler read."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.runs: list[SyncRun] = []
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        success = GaugeMetricFamily(
            "blobpi_sync_last_success_timestamp_seconds",
            "When the shard's last successful sync finished (Unix time).",
            labels=["shard"],
        )
        age = GaugeMetricFamily(
            "blobpi_sync_last_success_age_seconds",
            "Seconds since the shard's last successful sync: alert when it grows (stale mirror).",
            labels=["shard"],
        )
        for shard, run in sorted(latest(self.runs, ok_only=True).items()):
            stamp = run.finished.timestamp()
            success.add_metric([shard], stamp)
            age.add_metric([shard], max(0.0, now - stamp))
        yield success
        yield age
        figures: dict[str, tuple[str, Callable[[SyncRun], float]]] = {
            "ok": ("1 if the shard's last sync matched the lock, else 0.", lambda r: float(r.ok)),
            "duration_seconds": ("How long the shard's last sync took.", lambda r: r.seconds),
            "files_added": ("Files the shard's last sync added.", lambda r: float(r.added)),
            "bytes_added": ("Bytes the shard's last sync added.", lambda r: float(r.added_bytes)),
            "failures": ("Failures in the shard's last sync.", lambda r: float(r.failed)),
            "files": ("Files on the shard's pages after its last sync.", lambda r: r.files_total),
            "bytes": ("Bytes of those files.", lambda r: float(r.bytes_total)),
        }
        last = sorted(latest(self.runs).items())
        for name, (help_text, value) in figures.items():
            family = GaugeMetricFamily(f"blobpi_sync_last_run_{name}", help_text, labels=["shard"])
            for shard, run in last:
                family.add_metric([shard], float(value(run)))
            yield family


class Metrics:
    """The metric families of one app; each app has its own registry (tests make many)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        # No *_created series: they double the output and no dashboard of ours reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "blobpi_http_requests",
            "HTTP requests answered.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "blobpi_http_request_duration_seconds",
            "Time to answer a request, until the last body byte is sent.",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.body_bytes = Counter(
            "blobpi_http_response_body_bytes",
            "Bytes of response bodies sent.",
            ["route"],
            registry=r,
        )
        self.page_cache = Counter(
            "blobpi_page_cache_lookups",
            "Page cache lookups: hit (fresh in memory), "
            "revalidated (the blob was unchanged), miss (read from the store).",
            ["result"],
            registry=r,
        )
        self.auth_failures = Counter(
            "blobpi_auth_failures",
            "Requests the access control refused, by reason.",
            ["reason"],
            registry=r,
        )
        for result in ("hit", "revalidated", "miss"):
            self.page_cache.labels(result)
        self.sync = _SyncCollector(clock)
        r.register(self.sync)

    def cache_result(self, result: str) -> None:
        self.page_cache.labels(result).inc()

    def auth_failure(self, error: Exception) -> None:
        self.auth_failures.labels(type(error).__name__).inc()  # a class of ours: bounded

    def load_history(self, data: bytes | None) -> None:
        """Take the runs from the history record's bytes (None: no sync has run yet)."""
        self.sync.runs = parse_runs(json.loads(data)) if data else []

    def render(self) -> bytes:
        """The text exposition format.

        >>> m = Metrics(clock=lambda: 100.0)
        >>> m.requests.labels("/simple/", "GET", "200").inc(2)
        >>> b'requests_total{method="GET",route="/simple/",status="200"} 2.0' in m.render()
        True
        """
        return generate_latest(self.registry)


def _method(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in METHODS else "other"


class MetricsMiddleware:
    """Outermost: counts every request, refused or not, with bounded labels only."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_label(scope)
        status = 500
        sent = 0
        started = time.perf_counter()

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            requests, latency, body_bytes = self._children(route, _method(scope), status)
            requests.inc()
            latency.observe(time.perf_counter() - started)
            body_bytes.inc(sent)

    def _children(self, route: str, method: str, status: int) -> tuple[Any, Any, Any]:
        """The labelled series, looked up once per label set (``labels()`` takes a lock):
        the labels are bounded (route templates, methods, statuses), so this stays small."""
        key = (route, method, status)
        children = self._series.get(key)
        if children is None:
            m = self.metrics
            children = (
                m.requests.labels(route, method, str(status)),
                m.latency.labels(route),
                m.body_bytes.labels(route),
            )
            self._series[key] = children
        return children
