"""The runtime's OpenTelemetry instruments. No-ops until a meter provider is installed (see telemetry).

Gauges that mirror live objects (consumer lag, DLQ size, outbox backlog) read the objects registered
here when the reader collects, so nothing is computed on the hot path.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

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
OUTBOX_BATCHES = _meter.create_counter(
    "parley.outbox.batches",
    description="Windows sent as JetStream fast-ingest batches, by outcome (stored, unsure: resent message by "
    "message, timeout)",
)
TURN_LATENCY = _meter.create_histogram(
    "parley.turn.latency",
    unit="s",
    description="Per-turn latencies reported by the agent framework, by stage",
    explicit_bucket_boundaries_advisory=[0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
)
HTTP_DURATION = _meter.create_histogram(
    "parley.http.server.duration",
    unit="s",
    description="HTTP request duration, by route and status",
    explicit_bucket_boundaries_advisory=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
)


class _Lagging(Protocol):
    durable: str
    lag: dict[str, int]


class _Backlogged(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def backlog(self) -> int: ...


_consumers: weakref.WeakSet[Any] = weakref.WeakSet()
_outboxes: weakref.WeakSet[Any] = weakref.WeakSet()


def watch_consumer(consumer: _Lagging) -> None:
    _consumers.add(consumer)


def watch_outbox(outbox: _Backlogged) -> None:
    _outboxes.add(outbox)


def _pending(_: CallbackOptions) -> Iterable[Observation]:
    for c in list(_consumers):
        yield Observation(c.lag.get("pending", 0), {"consumer": c.durable})


def _ack_pending(_: CallbackOptions) -> Iterable[Observation]:
    for c in list(_consumers):
        yield Observation(c.lag.get("ack_pending", 0), {"consumer": c.durable})


def _dlq(_: CallbackOptions) -> Iterable[Observation]:
    for c in list(_consumers)[:1]:  # one process-wide reading is enough
        if "dlq_messages" in c.lag:
            yield Observation(c.lag["dlq_messages"])


def _backlog(_: CallbackOptions) -> Iterable[Observation]:
    for o in list(_outboxes):
        yield Observation(o.backlog, {"outbox": o.name})


_meter.create_observable_gauge("parley.consumer.pending", [_pending], description="Messages not yet delivered")
_meter.create_observable_gauge("parley.consumer.ack_pending", [_ack_pending], description="Delivered, not acked")
_meter.create_observable_gauge("parley.dlq.messages", [_dlq], description="Messages in the DLQ stream")
_meter.create_observable_gauge("parley.outbox.backlog", [_backlog], description="Events waiting to be published")
