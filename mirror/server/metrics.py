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

import bisect
import itertools
import json
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import Scope

from blobpi.mirror.core.history import SyncRun, latest, parse_runs

__all__ = ["CONTENT_TYPE", "METHODS", "Metrics", "method_label", "route_label"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METHODS = frozenset({"GET", "HEAD", "POST"})
# seconds: a cached page answers in well under a millisecond, a large download takes minutes
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)
_BUCKET_LABELS = (*(str(float(b)) for b in _BUCKETS), "+Inf")  # as prometheus_client writes them


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


class _RouteFigures:
    """One route's latency histogram (a count per bucket, not yet cumulative) and bytes."""

    __slots__ = ("buckets", "bytes", "count", "seconds")

    def __init__(self) -> None:
        self.buckets = [0] * (len(_BUCKETS) + 1)  # the last one is +Inf
        self.count = 0
        self.seconds = 0.0
        self.bytes = 0


class _RequestCollector(Collector):
    """The request figures as metric families, built when ``/metrics`` is read."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        requests = CounterMetricFamily(
            "blobpi_http_requests", "HTTP requests answered.", labels=["route", "method", "status"]
        )
        for (route, method, status), count in sorted(m.requests.items()):
            requests.add_metric([route, method, str(status)], count)
        latency = HistogramMetricFamily(
            "blobpi_http_request_duration_seconds",
            "Time to answer a request, until the last body byte is sent.",
            labels=["route"],
        )
        body_bytes = CounterMetricFamily(
            "blobpi_http_response_body_bytes", "Bytes of response bodies sent.", labels=["route"]
        )
        for route, figures in sorted(m.routes.items()):
            cumulative = list(itertools.accumulate(figures.buckets))
            latency.add_metric(
                [route], list(zip(_BUCKET_LABELS, cumulative, strict=True)), figures.seconds
            )
            body_bytes.add_metric([route], figures.bytes)
        page_cache = CounterMetricFamily(
            "blobpi_page_cache_lookups",
            "Page cache lookups: hit (fresh in memory), "
            "revalidated (the blob was unchanged), miss (read from the store).",
            labels=["result"],
        )
        for result, count in m.page_cache.items():
            page_cache.add_metric([result], count)
        auth_failures = CounterMetricFamily(
            "blobpi_auth_failures",
            "Requests the access control refused, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(m.auth_failures.items()):
            auth_failures.add_metric([reason], count)
        yield from (requests, latency, body_bytes, page_cache, auth_failures)


class Metrics:
    """The figures of one app (each app has its own registry: tests make many).

    Counting is plain integer arithmetic in dicts, read into metric families only when
    ``/metrics`` is scraped: ``prometheus_client``'s own counters take a lock per increment,
    which cost a cached page a fifth of its answer. Only the event loop's thread counts
    (every caller is a coroutine or a callback on it), so no lock is needed.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.routes: dict[str, _RouteFigures] = {}
        self.page_cache = {"hit": 0, "revalidated": 0, "miss": 0}
        self.auth_failures: dict[str, int] = {}
        self.registry = CollectorRegistry()
        self.registry.register(_RequestCollector(self))
        self.sync = _SyncCollector(clock)
        self.registry.register(self.sync)

    def observe(self, route: str, method: str, status: int, seconds: float, sent: int) -> None:
        """Count one answered request (the hot path: a few dict and list operations)."""
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        figures = self.routes.get(route)
        if figures is None:
            figures = self.routes[route] = _RouteFigures()
        figures.buckets[bisect.bisect_left(_BUCKETS, seconds)] += 1
        figures.count += 1
        figures.seconds += seconds
        figures.bytes += sent

    def cache_result(self, result: str) -> None:
        self.page_cache[result] += 1  # one of the three keys: PageCache says which

    def auth_failure(self, error: Exception) -> None:
        reason = type(error).__name__  # a class of ours: bounded
        self.auth_failures[reason] = self.auth_failures.get(reason, 0) + 1

    def load_history(self, data: bytes | None) -> None:
        """Take the runs from the history record's bytes (None: no sync has run yet)."""
        self.sync.runs = parse_runs(json.loads(data)) if data else []

    def render(self) -> bytes:
        """The text exposition format.

        >>> m = Metrics(clock=lambda: 100.0)
        >>> for _ in range(2): m.observe("/simple/", "GET", 200, 0.0002, 10)
        >>> b'requests_total{method="GET",route="/simple/",status="200"} 2.0' in m.render()
        True
        >>> b'duration_seconds_bucket{le="0.0005",route="/simple/"} 2.0' in m.render()
        True
        """
        return generate_latest(self.registry)


def method_label(scope: Scope) -> str:
    """The method, or ``other``: what a label may say about a method."""
    method = str(scope.get("method", ""))
    return method if method in METHODS else "other"
