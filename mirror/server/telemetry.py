"""OpenTelemetry traces to Azure Monitor, only when ``APPLICATIONINSIGHTS_CONNECTION_STRING``
is set (``ServerSettings.telemetry``) and the optional extra is installed
(``pip install 'blobpi[otel]'``, the Azure Monitor distro). Otherwise nothing here imports
OpenTelemetry, and the server runs without it.

Spans are named by method and route template (``GET /simple/{project}/``), never the raw
path, for the same reason the metrics' labels are bounded; the probes are not traced.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware import Middleware

from blobpi.mirror.core.errors import ConfigError
from blobpi.mirror.server.metrics import METHODS, route_label

__all__ = ["tracing_middleware"]

_UNTRACED = "health,metrics"  # probes and scrapes: many, and of no interest in a trace


def _span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    method = str(scope.get("method", ""))
    return f"{method if method in METHODS else 'HTTP'} {route_label(scope)}", {}


def tracing_middleware(connection_string: str | None) -> list[Middleware]:
    """The middleware that traces requests, or none when telemetry is not configured."""
    if not connection_string:
        return []
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        raise ConfigError(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is set, but the Azure Monitor distro is not "
            "installed: pip install 'blobpi[otel]', or unset the variable"
        ) from None
    configure_azure_monitor(connection_string=connection_string, logger_name="blobpi")
    return [
        Middleware(
            OpenTelemetryMiddleware,
            excluded_urls=_UNTRACED,
            default_span_details=_span_details,
        )
    ]
