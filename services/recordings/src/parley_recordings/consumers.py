"""Transport only: the `recordings` durable, the object store as audio source, JetStream publishing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from nats.aio.client import Client
from nats.js import JetStreamContext

import parley_contracts as c
from parley_recordings.handlers import Deps, erase_conversation, store_session
from parley_recordings.objectstore import delete_object, delete_objects_under, stream_object
from parley_recordings.whole_session import WAIT_DELIVERIES
from parley_runtime.messaging.consume import Consumer, durable_consumer
from parley_runtime.messaging.entries import publish_event
from parley_runtime.messaging.handling import Delivery

DURABLE = "recordings"


class NatsAudio:
    def __init__(self, js: JetStreamContext) -> None:
        self.js = js

    def stream(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        return stream_object(self.js, bucket, key)

    async def delete(self, bucket: str, key: str) -> None:
        await delete_object(self.js, bucket, key)

    async def delete_under(self, bucket: str, prefix: str) -> int:
        return await delete_objects_under(self.js, bucket, prefix)


def publisher(js: JetStreamContext):  # type: ignore[no-untyped-def]
    async def publish(event: c.Event) -> None:
        await publish_event(js, event, timeout=5)

    return publish


def recordings_consumer(nc: Client, deps_factory: Deps, *, wait_deliveries: int = WAIT_DELIVERIES) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        for d in batch:  # one session at a time: each is a few blob writes, done in order
            if isinstance(d.event, c.SessionEnded):
                await store_session(d.event, deps_factory, settle=d.num_delivered >= wait_deliveries)
            elif isinstance(d.event, c.ConversationErased):
                await erase_conversation(d.event, deps_factory)

    # Postgres's transient errors and TransientError (BlobUnavailable) are retried; what Postgres cannot store
    # is dead-lettered at once.
    return durable_consumer(nc, DURABLE, handle, batch_size=10)
