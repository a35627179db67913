"""Transport only: bind the `rooms` durable and feed decoded batches to `events.apply_session_events`."""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.client import Client

from parley_rooms.events import ReplaceMetadata, apply_session_events
from parley_rooms.ports import RoomStore
from parley_runtime.messaging.consume import Consumer, durable_consumer
from parley_runtime.messaging.handling import Delivery

DURABLE = "rooms"


def rooms_consumer(nc: Client, *, store: RoomStore, replace_metadata: ReplaceMetadata | None = None) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        await apply_session_events([d.event for d in batch], store=store, replace_metadata=replace_metadata)

    return durable_consumer(nc, DURABLE, handle, batch_size=200)
