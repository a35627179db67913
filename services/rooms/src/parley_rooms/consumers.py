"""Transport only: bind the `rooms` durable and feed decoded batches to `handlers.apply_events`."""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts.streams import VOICE_STREAM_NAME
from parley_rooms.handlers import ReplaceMetadata, apply_events
from parley_runtime.consume import Consumer
from parley_runtime.db import is_transient, poison_reason
from parley_runtime.handling import Delivery

DURABLE = "rooms"


def rooms_consumer(nc: Client, engine: AsyncEngine, replace_metadata: ReplaceMetadata | None = None) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        await apply_events([d.event for d in batch], engine, replace_metadata)

    return Consumer(
        nc,
        nc.jetstream(),
        VOICE_STREAM_NAME,
        DURABLE,
        handle,
        batch_size=200,
        is_transient=is_transient,
        poison_reason=poison_reason,
    )
