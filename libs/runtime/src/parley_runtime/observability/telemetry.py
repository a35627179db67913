"""OpenTelemetry for one process, set up in one place: traces, metrics, and the Prometheus registry.

* Resource: `service.name`, `service.version`, `service.namespace=parley`, plus `OTEL_RESOURCE_ATTRIBUTES`.
* Traces: exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, else kept local (spans
  still carry ids into the logs and across NATS headers).
* Metrics: always readable at `/metrics` (Prometheus text), and pushed over OTLP when the endpoint is set.
* Span attributes and log fields carry ids, counts and timings, never transcript text.

Idempotent: calling it twice (tests, or the agent's job processes) adds nothing twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    otlp: bool


_current: Telemetry | None = None


def setup_telemetry(service: str, version: str, *, extra_span_processor: SpanProcessor | None = None) -> Telemetry:
    global _current
    if _current is not None:
        if extra_span_processor is not None:
            _current.tracer_provider.add_span_processor(extra_span_processor)
        return _current
    resource = Resource.create({"service.name": service, "service.version": version, "service.namespace": "parley"})
    otlp = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    tracer_provider = TracerProvider(resource=resource)
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_span_processor is not None:
        tracer_provider.add_span_processor(extra_span_processor)
    trace.set_tracer_provider(tracer_provider)

    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    readers: list[Any] = [PrometheusMetricReader()]
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(meter_provider)
    _current = Telemetry(tracer_provider, meter_provider, otlp)
    return _current


def prometheus_text() -> bytes:
    """Everything this process measures, in the Prometheus text format."""
    from prometheus_client import REGISTRY, generate_latest

    return bytes(generate_latest(REGISTRY))


def shutdown_telemetry() -> None:
    if _current is not None:
        _current.tracer_provider.shutdown()
        if _current.meter_provider is not None:
            _current.meter_provider.shutdown()
