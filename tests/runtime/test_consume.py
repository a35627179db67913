"""The consume loop against a real JetStream: ack after handling, term poison into the DLQ, nak with delays."""

import asyncio
import time
from collections.abc import Sequence
from uuid import uuid4

import nats
import pytest
from nats.aio.client import Client

import parley_contracts as c
from parley_runtime.messaging.dlq import REASON_HEADER
from parley_runtime.messaging.handling import Delivery, PoisonError, RetryPolicy
from parley_runtime.messaging.provision import provision
from tests.support import eventually

from .conftest import Running, headers_for, turn


@pytest.fixture
def seen() -> list[c.AnyEvent]:
    return []


async def test_published_event_reaches_durable_consumer_once_even_if_published_twice(
    nc: Client, seen: list[c.AnyEvent]
) -> None:
    js = nc.jetstream()
    event = turn(1)
    first = await js.publish(c.subject_for(event), c.encode(event), headers=headers_for(event))
    again = await js.publish(c.subject_for(event), c.encode(event), headers=headers_for(event))
    assert again.duplicate and again.seq == first.seq
    assert (await js.stream_info("VOICE")).state.messages == 1

    async def handler(batch: Sequence[Delivery]) -> None:
        seen.extend(d.event for d in batch)

    running = Running(nc, handler)
    await eventually(lambda: len(seen) == 1)
    await asyncio.sleep(0.3)  # time for a redelivery, were there one
    await running.close()
    assert seen == [event]
    info = await js.consumer_info("VOICE", "history")
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_malformed_message_ends_in_dlq_with_its_reason_and_good_ones_are_handled(
    nc: Client, seen: list[c.AnyEvent]
) -> None:
    js = nc.jetstream()
    good = turn(1)
    await js.publish(
        "voice.turn_completed.v1.conv-1",
        b'{"type":"turn_completed.v1","seq":"x"}',
        headers={"Nats-Msg-Id": "bad-1", "x-origin": "test"},
    )
    await js.publish(c.subject_for(good), c.encode(good), headers=headers_for(good))

    async def handler(batch: Sequence[Delivery]) -> None:
        seen.extend(d.event for d in batch)

    running = Running(nc, handler)
    dlq = await js.subscribe("dlq.>", stream="DLQ", ordered_consumer=True)
    dead = await dlq.next_msg(timeout=10)
    await eventually(lambda: len(seen) == 1)
    await running.close()

    assert dead.subject == "dlq.voice.turn_completed.v1.conv-1"
    assert dead.data == b'{"type":"turn_completed.v1","seq":"x"}'
    assert dead.headers is not None
    assert dead.headers["x-origin"] == "test"
    assert dead.headers[REASON_HEADER].startswith("undecodable:")
    assert "event_id" in dead.headers[REASON_HEADER] or "seq" in dead.headers[REASON_HEADER]
    assert seen == [good]


async def test_handler_failing_twice_is_retried_with_growing_delays_and_acked_once(
    nc: Client, seen: list[c.AnyEvent]
) -> None:
    js = nc.jetstream()
    flaky, others = turn(1, conversation="flaky"), [turn(i, conversation="steady") for i in range(1, 4)]
    attempts: list[float] = []

    async def handler(batch: Sequence[Delivery]) -> None:
        for d in batch:
            if d.event.conversation_id == "flaky" and len(attempts) < 2:
                attempts.append(time.monotonic())
                raise RuntimeError("simulated bug")
            if d.event.conversation_id == "flaky":
                attempts.append(time.monotonic())
        seen.extend(d.event for d in batch)

    running = Running(nc, handler, retry=RetryPolicy(base=0.4, cap=5))
    await js.publish(c.subject_for(flaky), c.encode(flaky), headers=headers_for(flaky))
    await eventually(lambda: len(attempts) >= 1)
    for e in others:  # published while the flaky one waits for its redelivery
        await js.publish(c.subject_for(e), c.encode(e), headers=headers_for(e))
    await eventually(lambda: flaky in seen)
    await asyncio.sleep(0.5)  # time for a redelivery, were there one
    await running.close()

    assert seen.count(flaky) == 1
    assert all(e in seen for e in others)
    assert seen.index(others[-1]) < seen.index(flaky), "the loop kept going while the flaky one waited"
    first_gap, second_gap = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert first_gap >= 0.35 and second_gap >= 0.75, (first_gap, second_gap)
    assert running.consumer.stats.naked == 2


async def test_poison_rejected_by_handler_is_terminated_and_its_batch_mates_are_acked(
    nc: Client, seen: list[c.AnyEvent]
) -> None:
    js = nc.jetstream()
    events = [turn(i, text="poison" if i == 2 else "fine") for i in range(1, 4)]
    for e in events:
        await js.publish(c.subject_for(e), c.encode(e), headers=headers_for(e))

    async def handler(batch: Sequence[Delivery]) -> None:
        for d in batch:
            assert isinstance(d.event, c.TurnCompleted)
            if d.event.text == "poison":
                raise PoisonError("turn rejected by domain rule")
        seen.extend(d.event for d in batch)

    running = Running(nc, handler)
    dlq = await js.subscribe("dlq.>", stream="DLQ", ordered_consumer=True)
    dead = await dlq.next_msg(timeout=10)
    await eventually(lambda: len(seen) == 2)
    await running.close()
    assert dead.headers and dead.headers[REASON_HEADER] == "rejected: turn rejected by domain rule"
    assert seen == [events[0], events[2]]


async def test_message_that_keeps_failing_is_dead_lettered_with_the_last_error(nc: Client) -> None:
    js = nc.jetstream()
    from nats.js.api import ConsumerConfig

    await js.add_consumer(
        "VOICE", ConsumerConfig(durable_name="history", max_deliver=3, filter_subjects=["voice.turn_completed.v1.*"])
    )
    event = turn(1)
    await js.publish(c.subject_for(event), c.encode(event), headers=headers_for(event))

    async def handler(batch: Sequence[Delivery]) -> None:
        raise ValueError("always broken")

    running = Running(nc, handler, retry=RetryPolicy(base=0.1, cap=0.2))
    dlq = await js.subscribe("dlq.>", stream="DLQ", ordered_consumer=True)
    dead = await dlq.next_msg(timeout=15)
    await running.close()
    assert dead.headers is not None
    assert dead.headers[REASON_HEADER].startswith("gave up after 3 deliveries: ValueError('always broken')")
    assert dead.headers["Parley-Dlq-Original-Msg-Id"] == str(event.event_id)


async def test_a_passed_over_message_waits_for_on_skipped_and_is_never_dead_lettered(
    nc: Client, seen: list[c.AnyEvent]
) -> None:
    js = nc.jetstream()
    joined = c.ParticipantJoined(
        event_id=uuid4(),
        occurred_at=c.utcnow(),
        conversation_id="conv-1",
        session_id="sess-1",
        producer="test",
        identity="caller",
        kind="standard",
        at=c.utcnow(),
    )
    noticed: list[str] = []

    async def on_skipped(subjects: Sequence[str]) -> None:
        if not noticed:
            noticed.append("failed")
            raise OSError("database away")
        noticed.extend(subjects)

    async def handler(batch: Sequence[Delivery]) -> None:
        seen.extend(d.event for d in batch)

    running = Running(
        nc, handler, handles=("voice.turn_completed.v1.*",), on_skipped=on_skipped, retry=RetryPolicy(base=0.3)
    )
    good = turn(1)
    for event in (joined, good):
        await js.publish(c.subject_for(event), c.encode(event), headers=headers_for(event))
    await eventually(lambda: len(noticed) == 2)
    await asyncio.sleep(0.3)  # time for a redelivery, were there one
    await running.close()

    assert noticed == ["failed", "voice.participant_joined.v1.conv-1"]  # redelivered, then seen and acked
    assert seen == [good]  # never decoded for the handler
    assert running.consumer.stats.skipped == 1 and running.consumer.stats.terminated == 0
    info = await js.consumer_info("VOICE", "history")
    assert info.num_pending == 0 and info.num_ack_pending == 0
    assert (await js.stream_info("DLQ")).state.messages == 0


async def test_the_loops_end_cleanly_when_their_connection_is_closed(nats_url: str) -> None:
    # The client reconnects forever, so closed means closed for good: looping on it would never end (a test
    # that failed before stopping its consumer hung pytest at teardown that way).
    client = await nats.connect(nats_url)
    await provision(client.jetstream())

    async def handler(batch: Sequence[Delivery]) -> None:
        return None

    running = Running(client, handler)
    await asyncio.sleep(0.5)  # both loops are fetching
    await client.close()
    done, pending = await asyncio.wait(running.tasks, timeout=5)  # `stop` was never set
    assert not pending
    assert [t.exception() for t in done] == [None, None]


async def _slow_first_batch(nc: Client, *, hold_for: float, **kw: object) -> list[int]:
    """Handle one event whose first handling takes `hold_for` s with `ack_wait` 1 s; the deliveries seen."""
    from nats.js.api import ConsumerConfig

    js = nc.jetstream()
    await js.add_consumer(
        "VOICE", ConsumerConfig(durable_name="history", ack_wait=1.0, filter_subjects=["voice.turn_completed.v1.*"])
    )
    event = turn(1)
    await js.publish(c.subject_for(event), c.encode(event), headers=headers_for(event))
    deliveries: list[int] = []

    async def handler(batch: Sequence[Delivery]) -> None:
        deliveries.extend(d.num_delivered for d in batch)
        if len(deliveries) == 1:
            await asyncio.sleep(hold_for)

    # Two batches at a time: a redelivery would be fetched and handled while the first is still running.
    running = Running(nc, handler, concurrency=2, **kw)
    await eventually(lambda: deliveries)
    await asyncio.sleep(hold_for + 1.5)  # past ack_wait: a redelivery, were there one, would have come
    await running.close()
    info = await js.consumer_info("VOICE", "history")
    assert info.num_ack_pending == 0 and info.num_pending == 0
    return deliveries


async def test_a_batch_handled_longer_than_ack_wait_is_not_redelivered_meanwhile(nc: Client) -> None:
    assert await _slow_first_batch(nc, hold_for=4.0) == [1]


async def test_a_batch_held_past_max_hold_is_let_go_to_be_redelivered(nc: Client) -> None:
    assert await _slow_first_batch(nc, hold_for=4.0, max_hold_seconds=1.5) == [1, 2]
