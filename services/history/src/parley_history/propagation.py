"""Transport for erasures: publish `conversation_erased.v1` and purge the streams, from a background loop.

The loop runs `erasure.propagate` when the API records an erasure (woken through an event) and every
`interval` seconds, so an erasure recorded while NATS was down, or by another replica that stopped
halfway, is finished by whichever replica comes next. After each round it measures what is left for the
gauges `parley_erasures_unfinished` and `parley_erasures_oldest_unfinished_seconds` (alert: the chart's
`ParleyErasureStuck`): an erasure that never finishes is a promise to a caller not kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from functools import partial

from nats.aio.client import Client
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_contracts.streams import DLQ_STREAM_NAME, VOICE_STREAM_NAME, erasable_subjects
from parley_history.erasure import Backlog, backlog, propagate
from parley_runtime.messaging.entries import publish_event
from parley_runtime.periodic import every


class NatsErasureBus:
    def __init__(self, nc: Client, *, timeout: float = 5.0) -> None:
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout

    async def publish(self, event: c.ConversationErased) -> None:
        await publish_event(self.js, event, timeout=self.timeout)

    async def purge(self, conversation_id: str) -> None:
        for subject in erasable_subjects(conversation_id):
            stream = DLQ_STREAM_NAME if subject.startswith("dlq.") else VOICE_STREAM_NAME
            await self.js.purge_stream(stream, subject=subject)


# What the last round measured, read by the gauges when metrics are collected. Every replica reports the
# same database-wide figures: alert on their maximum.
_reading = Backlog()


def _unfinished(_: CallbackOptions) -> Iterable[Observation]:
    yield Observation(_reading.unfinished)


def _oldest(_: CallbackOptions) -> Iterable[Observation]:
    yield Observation(_reading.oldest_seconds)


_meter = metrics.get_meter("parley.history")
_meter.create_observable_gauge("parley.erasures.unfinished", [_unfinished], description="Erasures not yet done")
_meter.create_observable_gauge(
    "parley.erasures.oldest_unfinished", [_oldest], unit="s", description="Age of the oldest erasure not yet done"
)


async def _round(engine: AsyncEngine, bus: NatsErasureBus) -> None:
    try:
        await propagate(engine, bus)
    finally:  # also, above all, when the round failed: that is what the gauges are for
        with contextlib.suppress(Exception):  # the database away: the last reading stands
            reading = await backlog(engine)
            _reading.unfinished, _reading.oldest_seconds = reading.unfinished, reading.oldest_seconds


async def run_propagation(
    engine: AsyncEngine, nc: Client, stop: asyncio.Event, wakeup: asyncio.Event, *, interval: float = 30.0
) -> None:
    # NATS or Postgres away: the erasure stays unfinished and the next round tries again.
    bus = NatsErasureBus(nc)
    await every(interval, stop, partial(_round, engine, bus), what="erasure propagation", wakeup=wakeup)
