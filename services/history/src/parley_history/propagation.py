"""Transport for erasures: publish `conversation_erased.v1` and purge the streams, from a background loop.

The loop runs `erasure.propagate` when the API records an erasure (woken through an event) and every
`interval` seconds, so an erasure recorded while NATS was down, or by another replica that stopped
halfway, is finished by whichever replica comes next.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_contracts.streams import DLQ_STREAM_NAME, VOICE_STREAM_NAME, erasable_subjects
from parley_history.erasure import propagate
from parley_runtime import tracing

logger = logging.getLogger(__name__)


class NatsErasureBus:
    def __init__(self, nc: Client, *, timeout: float = 5.0) -> None:
        self.js = nc.jetstream(timeout=timeout)
        self.timeout = timeout

    async def publish(self, event: c.ConversationErased) -> None:
        headers = tracing.inject({"Nats-Msg-Id": str(event.event_id), "content-type": "application/json"})
        await self.js.publish(c.subject_for(event), c.encode(event), headers=headers, timeout=self.timeout)

    async def purge(self, conversation_id: str) -> None:
        for subject in erasable_subjects(conversation_id):
            stream = DLQ_STREAM_NAME if subject.startswith("dlq.") else VOICE_STREAM_NAME
            await self.js.purge_stream(stream, subject=subject)


async def run_propagation(
    engine: AsyncEngine, nc: Client, stop: asyncio.Event, wakeup: asyncio.Event, *, interval: float = 30.0
) -> None:
    bus = NatsErasureBus(nc)
    while not stop.is_set():
        wakeup.clear()
        try:
            await propagate(engine, bus)
        except Exception as exc:  # NATS or Postgres away: the erasure stays unfinished and is tried again
            logger.warning("erasure propagation failed; trying again", extra={"error": type(exc).__name__})
        stopped = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(wakeup.wait())
        try:
            await asyncio.wait({stopped, woken}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            woken.cancel()
