"""The runtime's OpenTelemetry instruments. No-ops until a meter provider is installed (see telemetry)."""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("parley.runtime")

NATS_ERRORS = _meter.create_counter("parley.nats.errors", description="NATS client errors")
NATS_DISCONNECTS = _meter.create_counter("parley.nats.disconnects", description="NATS disconnections")
EVENTS_PROCESSED = _meter.create_counter(
    "parley.events.processed", description="Events handled and acked, by consumer and type"
)
EVENTS_FAILED = _meter.create_counter(
    "parley.events.failed", description="Events nak'ed (transient) or terminated (poison), by outcome"
)
DEAD_LETTERS = _meter.create_counter("parley.dlq.copied", description="Messages copied to the DLQ stream")
OUTBOX_PUBLISHED = _meter.create_counter("parley.outbox.published", description="Events acked by JetStream")
OUTBOX_SPILLED = _meter.create_counter("parley.outbox.spilled", description="Events written to the spill file")
OUTBOX_DROPPED = _meter.create_counter(
    "parley.outbox.dropped", description="Events dropped (permanent publish error or no spill file)"
)
