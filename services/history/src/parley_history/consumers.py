"""Transport only: bind the `history` durable and feed decoded batches to `handlers.persist`."""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.client import Client

from parley_contracts.streams import VOICE_STREAM_NAME, service_consumers
from parley_history.db import is_transient
from parley_history.handlers import HistoryStore, persist
from parley_runtime.consume import Consumer
from parley_runtime.handling import Delivery

DURABLE = "history"


def history_consumer(nc: Client, store: HistoryStore, *, batch_size: int, concurrency: int = 2) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        await persist([d.event for d in batch], store)

    return Consumer(
        nc,
        nc.jetstream(),
        VOICE_STREAM_NAME,
        DURABLE,
        handle,
        batch_size=batch_size,
        concurrency=concurrency,
        is_transient=is_transient,
        handles=tuple(service_consumers()[DURABLE].handles),
    )
