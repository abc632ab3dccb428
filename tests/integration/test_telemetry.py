"""OpenTelemetry is off and never imported unless APPLICATIONINSIGHTS_CONNECTION_STRING is
set; when it is, requests are traced with bounded span names (route templates). Each case
runs in its own interpreter, since the distro configures process-wide state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_PROBE = """
import json, sys
from starlette.testclient import TestClient
from blobpi.mirror.core.sources import parse_settings
from blobpi.mirror.server.app import create_app
from blobpi.mirror.store.local import LocalStore

environ, root = json.loads(sys.argv[1]), sys.argv[2]
app = create_app(parse_settings(environ), store=LocalStore(root))
spans = None
if "APPLICATIONINSIGHTS_CONNECTION_STRING" in environ:
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    spans = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
with TestClient(app) as client:
    client.get("/simple/secret-name/")
    client.get("/health/live")
loaded = [m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor"))]
names = sorted({s.name for s in spans.get_finished_spans()}) if spans is not None else []
print(json.dumps({"loaded": bool(loaded), "spans": names}))
"""


def _probe(tmp_path: Path, environ: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(environ), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"OTEL_TRACES_SAMPLER": "always_on", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_telemetry__off_and_not_imported_by_default(tmp_path: Path) -> None:
    assert _probe(tmp_path, {}) == {"loaded": False, "spans": []}


def test_telemetry__traces_with_route_templates_when_configured(tmp_path: Path) -> None:
    pytest.importorskip("azure.monitor.opentelemetry", reason="needs the [otel] extra")
    connection = (
        "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
        "IngestionEndpoint=http://127.0.0.1:9/"  # nothing listens: the export fails quietly
    )
    result = _probe(tmp_path, {"APPLICATIONINSIGHTS_CONNECTION_STRING": connection})
    assert result["loaded"] is True
    spans = result["spans"]
    assert isinstance(spans, list) and "GET /simple/{project}/" in spans
    assert not any("secret-name" in s or "health" in s for s in spans)
