"""OpenTelemetry spans for HTTP server, HTTP client and PostgreSQL (PLAT-55).

Off by default and free when off: nothing is imported unless ENABLE_TRACING is
true.  The packages are an optional extra (requirements/tracing.txt); without
them the service starts normally and says once how to get them.  Spans go to
an OTLP/HTTP collector configured with the standard OTEL_* variables
(OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mastermobile.config import AppConfig

logger = logging.getLogger(__name__)
SERVICE_NAME = "mastermobile"


def configure_tracing(config: AppConfig, *, exporter: Any = None) -> bool:
    """Instrument Django, ``requests`` and psycopg; return whether tracing is on."""
    if not config.enable_tracing:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        logger.warning(
            "tracing.unavailable",
            extra={
                "event": "tracing.unavailable",
                "missing": error.name,
                "hint": "ENABLE_TRACING=true needs: pip install -r requirements/tracing.txt",
            },
        )
        return False
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME, "deployment.environment": config.app_env})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider)
    RequestsInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider)
    logger.info("tracing.enabled", extra={"event": "tracing.enabled"})
    return True
