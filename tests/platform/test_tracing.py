"""OpenTelemetry spans (PLAT-55): off by default, exported over OTLP/HTTP when on."""

import builtins
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings

from mastermobile.observability.tracing import configure_tracing
from tests.processes import manage, process_env


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def otlp_collector():
    """A real OTLP/HTTP endpoint on 127.0.0.1 that keeps what it receives."""
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    server.shutdown()


def span_names(payloads: list[bytes]) -> list[str]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    names: list[str] = []
    for payload in payloads:
        request = ExportTraceServiceRequest.FromString(payload)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                names.extend(span.name for span in scope_spans.spans)
    return names


def test_tracing_is_off_by_default():
    assert configure_tracing(settings.APP_CONFIG) is False


def test_without_the_packages_the_service_starts_and_says_how_to_get_them(monkeypatch, caplog):
    real_import = builtins.__import__

    def no_opentelemetry(name, *args, **kwargs):
        if name.startswith("opentelemetry"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_opentelemetry)

    enabled = configure_tracing(dataclasses.replace(settings.APP_CONFIG, enable_tracing=True))

    assert enabled is False
    warning = next(record for record in caplog.records if record.getMessage() == "tracing.unavailable")
    assert "requirements/tracing.txt" in warning.hint


@pytest.mark.slow
def test_requests_produce_server_spans_at_the_collector(otlp_collector, tmp_path):
    endpoint, received = otlp_collector
    code = (
        "from django.test import Client; from opentelemetry import trace; "
        "assert Client().get('/api/v1/system/ping').status_code == 200; "
        "trace.get_tracer_provider().force_flush()"
    )
    env = process_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'trace.sqlite3'}",
        ENABLE_TRACING="true",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        LOG_LEVEL="WARNING",
    )

    result = manage("shell", "-c", code, env=env)

    assert result.returncode == 0, result.stderr
    names = span_names(received)
    assert any("system/ping" in name for name in names), names
