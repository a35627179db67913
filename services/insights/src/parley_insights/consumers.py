"""Transport only: the `insights` durable on `session_ended.v1`, and publishing to JetStream."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.aio.client import Client
from nats.js import JetStreamContext

import parley_contracts as c
from parley_insights.service import Insights, Publish
from parley_runtime.messaging.consume import Consumer, durable_consumer
from parley_runtime.messaging.entries import publish_event
from parley_runtime.messaging.handling import Delivery, default_is_transient, default_poison_reason

DURABLE = "insights"


def publisher(js: JetStreamContext) -> Publish:
    async def publish(event: c.Event) -> None:
        await publish_event(js, event, timeout=5)

    return publish


def insights_consumer(nc: Client, insights: Insights, *, concurrency: int) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        # The sessions of a batch at once: each waits on the analysing model, not on this process.
        ended = [d.event for d in batch if isinstance(d.event, c.SessionEnded)]
        await asyncio.gather(*(insights.on_session_ended(e) for e in ended))

    # A model that cannot be reached (ModelUnavailable) or NATS refusing the publish is transient: the batch is
    # redelivered later. A bad answer is never an error here: the analysis is published as failed.
    return durable_consumer(
        nc, DURABLE, handle, batch_size=concurrency, is_transient=default_is_transient,
        poison_reason=default_poison_reason,
    )  # fmt: skip
