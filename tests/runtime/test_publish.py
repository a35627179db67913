"""Window publishing: every message of a window gets exactly one outcome from its own PubAck."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.msg import Msg

from parley_devstack.testing import stream_events
from parley_runtime.messaging.connection import subscriptions_confirmed
from parley_runtime.messaging.publish import Outcome, WindowPublisher
from tests.support import eventually

from .conftest import Recorder, message, turn

FAST_INGEST = False  # every message answered by its own PubAck (test_fast_ingest covers the batches)


async def test_a_window_of_turns_is_stored_and_a_resent_window_is_deduplicated(
    publisher: WindowPublisher, nats_url: str
) -> None:
    events = [turn(i + 1) for i in range(500)]
    outcomes, errors = await publisher.publish([message(e) for e in events], timeout=5)
    assert outcomes == [Outcome.STORED] * 500
    assert errors == [None] * 500
    # The same window again (as after a lost ack): acked as duplicates, stored once.
    outcomes, _ = await publisher.publish([message(e) for e in events], timeout=5)
    assert outcomes == [Outcome.STORED] * 500
    stored = [str(e.event_id) for e in await stream_events(nats_url)]
    assert sorted(stored) == sorted(str(e.event_id) for e in events)


async def test_refused_message_is_rejected_and_its_neighbours_still_stored(publisher: WindowPublisher) -> None:
    good, bad, also_good = turn(1), turn(2), turn(3)
    window = [message(good), message(bad, **{"Nats-Expected-Stream": "NOT-VOICE"}), message(also_good)]
    outcomes, errors = await publisher.publish(window, timeout=5)
    assert outcomes == [Outcome.STORED, Outcome.REJECTED, Outcome.STORED]
    assert errors[1] is not None and errors[1].startswith("400")


async def test_subject_no_stream_listens_on_is_left_to_retry(publisher: WindowPublisher) -> None:
    outcomes, errors = await publisher.publish([("nostream.here", b"{}", {"Nats-Msg-Id": "x-1"})], timeout=2)
    assert outcomes == [Outcome.RETRY]
    assert errors[0] == "status 503"


async def test_oversized_message_is_rejected_without_waiting_for_an_ack(publisher: WindowPublisher) -> None:
    huge = ("voice.turn_completed.v1.conv-1", b"x" * (2 * 1024 * 1024), {"Nats-Msg-Id": "huge-1"})  # > max_payload
    outcomes, _ = await publisher.publish([huge, message(turn(1))], timeout=5)
    assert outcomes == [Outcome.REJECTED, Outcome.STORED]


async def test_answered_windows_reuse_their_reply_subjects(publisher: WindowPublisher, nats_url: str) -> None:
    responder = await nats.connect(nats_url)
    seen: list[str] = []

    async def ack_like_a_stream(msg: Msg) -> None:
        seen.append(msg.reply)
        await responder.publish(msg.reply, b'{"stream":"VOICE","seq":1}')

    await responder.subscribe("acked.here", cb=ack_like_a_stream)
    await subscriptions_confirmed(responder)
    for _ in range(2):
        outcomes, _ = await publisher.publish([("acked.here", b"{}", {"Nats-Msg-Id": "a-1"})], timeout=5)
        assert outcomes == [Outcome.STORED]
    assert len(seen) == 2 and seen[0] == seen[1]  # the server's subject-match cache keeps hitting
    await responder.close()


async def test_late_ack_of_an_unanswered_window_is_not_taken_for_the_next_ones(
    publisher: WindowPublisher, recorder: Recorder
) -> None:
    silent, received = await recorder("silent.here")
    outcomes, _ = await publisher.publish([("silent.here", b"{}", {"Nats-Msg-Id": "s-1"})], timeout=0.3)
    assert outcomes == [Outcome.RETRY]  # nobody answered in time

    second = asyncio.create_task(publisher.publish([("silent.here", b"{}", {"Nats-Msg-Id": "s-2"})], timeout=1))
    await eventually(lambda: len(received) >= 2, interval=0.01, what="the second window")
    assert received[0].reply != received[1].reply  # a new generation after the unanswered window
    await silent.publish(received[0].reply, b'{"stream":"VOICE","seq":7}')  # the first window's ack, late
    outcomes, _ = await second
    assert outcomes == [Outcome.RETRY]  # not mistaken for the second window's answer
