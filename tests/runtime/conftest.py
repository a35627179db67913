"""A connected, provisioned JetStream for runtime tests, and event factories."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

import parley_contracts as c
from parley_devstack.testing import stream_events
from parley_runtime.messaging.connection import subscriptions_confirmed
from parley_runtime.messaging.consume import Consumer
from parley_runtime.messaging.dlq import DeadLetterCopier
from parley_runtime.messaging.fast_ingest import Message
from parley_runtime.messaging.handling import Delivery
from parley_runtime.messaging.publish import WindowPublisher


@pytest.fixture
async def publisher(nc: Client, request: pytest.FixtureRequest) -> AsyncIterator[WindowPublisher]:
    """A window publisher; a test module sets `FAST_INGEST = False` to test the per-message path alone."""
    publisher = await WindowPublisher(nc, fast_ingest=getattr(request.module, "FAST_INGEST", True)).start()
    yield publisher
    await publisher.stop()


Recorder = Callable[[str], Awaitable[tuple[Client, list[Msg]]]]


@pytest.fixture
async def recorder(nats_url: str) -> AsyncIterator[Recorder]:
    """`await recorder(subject)`: a second client that keeps every message on `subject` and answers none."""
    clients: list[Client] = []

    async def record(subject: str) -> tuple[Client, list[Msg]]:
        client = await nats.connect(nats_url)
        clients.append(client)
        seen: list[Msg] = []

        async def keep(msg: Msg) -> None:
            seen.append(msg)

        await client.subscribe(subject, cb=keep)
        await subscriptions_confirmed(client)
        return client, seen

    yield record
    for client in clients:
        await client.close()


def turn(
    seq: int = 1, *, conversation: str = "conv-1", session: str = "sess-1", text: str = "hello"
) -> c.TurnCompleted:
    return c.TurnCompleted(
        event_id=uuid4(),
        occurred_at=c.utcnow(),
        conversation_id=conversation,
        session_id=session,
        producer="test",
        seq=seq,
        role="user" if seq % 2 else "assistant",
        text=text,
    )


def message(event: c.Event, **extra: str) -> Message:
    """An event as the outbox hands it to the publisher: subject, payload, headers."""
    return c.subject_for(event), c.encode(event), {"Nats-Msg-Id": str(event.event_id), **extra}


def headers_for(event: c.Event) -> dict[str, str]:
    return {"Nats-Msg-Id": str(event.event_id), "content-type": "application/json"}


class Running:
    """Run a consumer of history's durable and the DLQ copier in the background for one test."""

    def __init__(self, nc: Client, handler: Callable[[Sequence[Delivery]], object], **kw: object) -> None:
        self.stop = asyncio.Event()
        self.consumer = Consumer(nc, nc.jetstream(), "VOICE", "history", handler, fetch_timeout=0.2, **kw)  # type: ignore[arg-type]
        self.copier = DeadLetterCopier(nc.jetstream(), fetch_timeout=0.2)
        self.tasks = [
            asyncio.create_task(self.consumer.run(self.stop)),
            asyncio.create_task(self.copier.run(self.stop)),
        ]

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)


async def stream_event_ids(url: str) -> list[str]:
    """The ids of the events the VOICE stream holds, in stream order."""
    return [str(e.event_id) for e in await stream_events(url)]
