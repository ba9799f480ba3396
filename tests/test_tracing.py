"""OpenTelemetry with SERVE_OPENTELEMETRY on: one server span per request, naming route, status and model.

Spans go to the SDK's in-memory exporter through the global tracer provider, as they would through the
provider `opentelemetry-instrument` or FastAPI's auto-configuration sets up in a served process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import serve_process
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """The in-memory exporter on the process's tracer provider (set once: OpenTelemetry allows no more)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exporter.clear()
    yield exporter
    exporter.clear()


@pytest.fixture
def traced(client_with) -> TestClient:
    return client_with(opentelemetry=True)


def only_span(spans: InMemorySpanExporter) -> ReadableSpan:
    [span] = spans.get_finished_spans()
    return span


def test_tracing_logistic_prediction_is_one_server_span(traced, spans):
    response = traced.post("/predict/logistic", json={"features": [4.0, 3.0]})

    assert response.status_code == 200
    span = only_span(spans)
    assert (span.kind, span.name) == (SpanKind.SERVER, "POST /predict/logistic")
    assert {k: span.attributes[k] for k in ("http.route", "http.response.status_code")} == {
        "http.route": "/predict/logistic",
        "http.response.status_code": 200,
    }
    assert {k: span.attributes[k] for k in ("model.name", "model.version")} == {
        "model.name": "logistic",
        "model.version": "1",
    }


def test_tracing_digit_upload_names_the_model(traced, spans, png_digit):
    response = traced.post("/predict/mnist", files={"file": ("seven.png", png_digit())})

    assert response.status_code == 200
    span = only_span(spans)
    assert span.attributes["http.route"] == "/predict/mnist"
    assert (span.attributes["model.name"], span.attributes["model.version"]) == ("mnist", "1")


def test_tracing_open_inference_protocol_names_the_model(traced, spans):
    body = {"inputs": [{"name": "features", "shape": [1, 2], "datatype": "FP32", "data": [4, 3]}]}

    response = traced.post("/v2/models/logistic/infer", json=body)

    assert response.status_code == 200
    span = only_span(spans)
    assert span.attributes["http.route"] == "/v2/models/{name}/infer"
    assert span.attributes["model.name"] == "logistic"


def test_tracing_refused_request_keeps_its_status(traced, spans):
    response = traced.post("/predict/logistic", json={"features": [1.0, 2.0, 3.0]})

    assert response.status_code == 422
    span = only_span(spans)
    assert span.attributes["http.response.status_code"] == 422
    assert span.attributes["model.name"] == "logistic"


def test_tracing_request_without_a_model_has_no_model_attributes(traced, spans):
    assert traced.get("/health/live").status_code == 200

    span = only_span(spans)
    assert span.attributes["http.route"] == "/health/live"
    assert "model.name" not in span.attributes


def test_tracing_continues_the_incoming_traceparent(traced, spans):
    traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"

    traced.post("/predict/logistic", json={"features": [4.0, 3.0]}, headers={"traceparent": traceparent})

    span = only_span(spans)
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert f"{span.parent.span_id:016x}" == PARENT_SPAN_ID
    assert span.parent.is_remote


def test_tracing_off_records_nothing(client, spans):
    assert client.post("/predict/logistic", json={"features": [4.0, 3.0]}).status_code == 200

    assert spans.get_finished_spans() == ()


@pytest.fixture
def collector() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP trace receiver on a free loopback port: (its traces URL, the bodies it was sent)."""
    bodies: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()


def exported_spans(bodies: list[bytes]) -> list:
    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                spans += scope_spans.spans
    return spans


def test_tracing_reaches_a_collector_from_a_served_process(serve_env, collector, tmp_path):
    """The README's recipe: digit-serve with FastAPI's auto-configuration and an OTLP endpoint."""
    traces_url, bodies = collector
    env = {
        **serve_env,
        "SERVE_OPENTELEMETRY": "true",
        "FASTAPI_OTEL_AUTO_CONFIGURE": "true",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": traces_url,
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms between batches, so the test need not wait 5 s
    }
    with serve_process(env, tmp_path / "serve.log") as (_, port):
        response = httpx.post(f"http://127.0.0.1:{port}/predict/logistic", json={"features": [4.0, 3.0]})
        assert response.status_code == 200
        deadline = time.monotonic() + 15
        while not any(s.name == "POST /predict/logistic" for s in exported_spans(bodies)):
            assert time.monotonic() < deadline, "no span reached the collector in 15 s"
            time.sleep(0.1)

    [span] = [s for s in exported_spans(bodies) if s.name == "POST /predict/logistic"]
    attributes = {a.key: a.value.string_value or a.value.int_value for a in span.attributes}
    assert attributes["model.name"] == "logistic"
    assert attributes["http.response.status_code"] == 200
