"""A call as it happens: its events from the VOICE stream, for the call page (server-sent events).

Each follower is an ordered, ephemeral JetStream consumer of one conversation's subjects (the console's NATS
user may read VOICE and nothing more), starting a little before the page loaded, so a turn stored while the page
was being read is not missed (the page drops what it already shows), or after the last event the browser saw
when it reconnects (`Last-Event-ID`). A comment every 15 s keeps idle connections open through proxies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar.response import ServerSentEventMessage
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy

import parley_contracts as c
from parley_contracts.codec import SUBJECT_PREFIX, ContractError
from parley_contracts.streams import VOICE_STREAM_NAME

HEARTBEAT_SECONDS = 15.0
LOOK_BACK = timedelta(seconds=30)
# What the page follows; other event types (rooms', recordings') say nothing a call page shows live.
SHOWN = (c.SessionStarted, c.TurnCompleted, c.AgentHandoff, c.SessionEnded)


def _config(after_sequence: int | None) -> ConsumerConfig:
    if after_sequence is not None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_sequence + 1)
    start = datetime.now(UTC) - LOOK_BACK
    return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start)


def _message(sequence: int, event: Any) -> ServerSentEventMessage:
    data = msgspec.to_builtins(event)
    if isinstance(event, c.SessionEnded):  # the page needs the end, not the summary's copy of every turn
        data = {k: v for k, v in data.items() if k not in ("messages", "participants")}
    kind = type(event).__name__
    return ServerSentEventMessage(
        data=msgspec.json.encode({**data, "kind": kind}).decode(), event=kind, id=str(sequence)
    )


async def follow(nc: Client, conversation_id: str, after_sequence: int | None) -> AsyncIterator[ServerSentEventMessage]:
    """The conversation's events as they reach the stream, until the browser goes away."""
    subject = f"{SUBJECT_PREFIX}.*.*.{conversation_id}"
    sub = await nc.jetstream().subscribe(
        subject, stream=VOICE_STREAM_NAME, ordered_consumer=True, config=_config(after_sequence)
    )
    try:
        yield ServerSentEventMessage(comment="following")
        while True:
            try:
                msg = await sub.next_msg(timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            try:
                event = c.decode(msg.data)
            except ContractError:
                continue  # a malformed event is the dead-letter queue's business, not the page's
            if isinstance(event, SHOWN):
                yield _message(msg.metadata.sequence.stream, event)
    finally:
        await sub.unsubscribe()
