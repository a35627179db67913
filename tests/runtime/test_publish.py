"""Window publishing: every message of a window gets exactly one outcome from its own PubAck."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest

import parley_contracts as c
from parley_devstack.testing import stream_events
from parley_runtime.provision import provision
from parley_runtime.publish import Message, Outcome, WindowPublisher

from .conftest import turn


@pytest.fixture
async def publisher(nats_url: str) -> AsyncIterator[WindowPublisher]:
    nc = await nats.connect(nats_url)
    await provision(nc.jetstream())
    publisher = await WindowPublisher(nc).start()
    yield publisher
    await publisher.stop()
    await nc.close()


def _message(event: c.Event, **extra: str) -> Message:
    return c.subject_for(event), c.encode(event), {"Nats-Msg-Id": str(event.event_id), **extra}


async def test_a_window_of_turns_is_stored_and_a_resent_window_is_deduplicated(
    publisher: WindowPublisher, nats_url: str
) -> None:
    events = [turn(i + 1) for i in range(500)]
    outcomes, errors = await publisher.publish([_message(e) for e in events], timeout=5)
    assert outcomes == [Outcome.STORED] * 500
    assert errors == [None] * 500
    # The same window again (as after a lost ack): acked as duplicates, stored once.
    outcomes, _ = await publisher.publish([_message(e) for e in events], timeout=5)
    assert outcomes == [Outcome.STORED] * 500
    stored = [str(e.event_id) for e in await stream_events(nats_url)]
    assert sorted(stored) == sorted(str(e.event_id) for e in events)


async def test_refused_message_is_rejected_and_its_neighbours_still_stored(publisher: WindowPublisher) -> None:
    good, bad, also_good = turn(1), turn(2), turn(3)
    window = [_message(good), _message(bad, **{"Nats-Expected-Stream": "NOT-VOICE"}), _message(also_good)]
    outcomes, errors = await publisher.publish(window, timeout=5)
    assert outcomes == [Outcome.STORED, Outcome.REJECTED, Outcome.STORED]
    assert errors[1] is not None and errors[1].startswith("400")


async def test_subject_no_stream_listens_on_is_left_to_retry(publisher: WindowPublisher) -> None:
    outcomes, errors = await publisher.publish([("nostream.here", b"{}", {"Nats-Msg-Id": "x-1"})], timeout=2)
    assert outcomes == [Outcome.RETRY]
    assert errors[0] == "status 503"


async def test_oversized_message_is_rejected_without_waiting_for_an_ack(publisher: WindowPublisher) -> None:
    huge = ("voice.turn_completed.v1.conv-1", b"x" * (2 * 1024 * 1024), {"Nats-Msg-Id": "huge-1"})  # > max_payload
    outcomes, _ = await publisher.publish([huge, _message(turn(1))], timeout=5)
    assert outcomes == [Outcome.REJECTED, Outcome.STORED]
