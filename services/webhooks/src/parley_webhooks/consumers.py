"""Transport only: the `webhooks` durable on VOICE hands decoded batches to `intake.take`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client

from parley_contracts.streams import service_consumers
from parley_runtime.db import is_transient, poison_reason
from parley_runtime.messaging.consume import Consumer, durable_consumer
from parley_runtime.messaging.handling import Delivery
from parley_webhooks import intake
from parley_webhooks.intake import WebhookStore
from parley_webhooks.reports import Links

DURABLE = "webhooks"


def webhooks_consumer(
    nc: Client, store: WebhookStore, *, batch_size: int, report_wait: timedelta, links: Links | None,
    on_queued: Callable[[], None],
) -> Consumer:  # fmt: skip
    async def handle(batch: Sequence[Delivery]) -> None:
        await intake.take([d.event for d in batch], store, datetime.now(UTC), report_wait=report_wait, links=links)
        on_queued()

    return durable_consumer(
        nc, DURABLE, handle, batch_size=batch_size, is_transient=is_transient, poison_reason=poison_reason,
        handles=tuple(service_consumers()[DURABLE].handles),
    )  # fmt: skip
