"""Request metrics in the Prometheus text format (``/metrics``), counted in memory per
process: requests by route and status, bytes of bodies sent, and request time."""

from __future__ import annotations

import collections
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware"]


class Metrics:
    def __init__(self) -> None:
        self.requests: collections.Counter[tuple[str, str, int]] = collections.Counter()
        self.body_bytes: collections.Counter[str] = collections.Counter()
        self.seconds: collections.defaultdict[str, float] = collections.defaultdict(float)

    def render(self) -> bytes:
        """The counters as Prometheus exposition text.

        >>> m = Metrics(); m.requests[("GET", "/simple/", 200)] += 2
        >>> b'blobpi_requests_total{method="GET",route="/simple/",status="200"} 2' in m.render()
        True
        """
        lines: list[str] = []
        families: list[tuple[str, str, dict[str, float]]] = [
            (
                "blobpi_requests_total",
                "HTTP requests answered.",
                {
                    f'method="{method}",route="{route}",status="{status}"': count
                    for (method, route, status), count in self.requests.items()
                },
            ),
            (
                "blobpi_response_body_bytes_total",
                "Bytes of response bodies sent.",
                {f'route="{route}"': count for route, count in self.body_bytes.items()},
            ),
            (
                "blobpi_request_seconds_total",
                "Time spent answering requests.",
                {f'route="{route}"': seconds for route, seconds in self.seconds.items()},
            ),
        ]
        for name, help_text, samples in families:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
            lines += [f"{name}{{{labels}}} {value!r}" for labels, value in sorted(samples.items())]
        return ("\n".join(lines) + "\n").encode()


def _route(path: str) -> str:
    """A low-cardinality label: the route, never the project or file requested."""
    if path.startswith("/simple/"):
        return "/simple/" if path == "/simple/" else "/simple/{project}/"
    if path.startswith("/packages/"):
        return "/packages/{path}"
    return path if path in ("/", "/health", "/metrics") else "other"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = _route(scope["path"])
        status = 500
        started = time.perf_counter()

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                self.metrics.body_bytes[route] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.metrics.requests[(scope["method"], route, status)] += 1
            self.metrics.seconds[route] += time.perf_counter() - started
