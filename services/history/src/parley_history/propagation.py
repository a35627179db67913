"""Transport for erasures: publish `conversation_erased.v1` and purge the streams, from a background loop.

The loop runs `erasure.propagate` when the API records an erasure (woken through an event) and every
`interval` seconds, so an erasure recorded while NATS was down, or by another replica that stopped
halfway, is finished by whichever replica comes next.
"""

from __future__ import annotations

import asyncio
from functools import partial

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_contracts.streams import DLQ_STREAM_NAME, VOICE_STREAM_NAME, erasable_subjects
from parley_history.erasure import propagate
from parley_runtime.entries import publish_event
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


async def run_propagation(
    engine: AsyncEngine, nc: Client, stop: asyncio.Event, wakeup: asyncio.Event, *, interval: float = 30.0
) -> None:
    # NATS or Postgres away: the erasure stays unfinished and the next round tries again.
    bus = NatsErasureBus(nc)
    await every(interval, stop, partial(propagate, engine, bus), what="erasure propagation", wakeup=wakeup)
