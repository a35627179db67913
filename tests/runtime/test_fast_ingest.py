"""Large windows go as one fast-ingest batch; anything short of a clean end falls back to per-message acks."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from parley_devstack.testing import metric_total, stream_events
from parley_runtime.messaging import fast_ingest
from parley_runtime.messaging.provision import provision
from parley_runtime.messaging.publish import FAST_MIN, Outcome, WindowPublisher
from parley_runtime.observability.telemetry import prometheus_text, setup_telemetry
from tests.support import eventually

from .conftest import Recorder, message, turn


@pytest.fixture
async def answers(recorder: Recorder) -> list[Msg]:
    """Every answer the server sends to any inbox (acks, flow acks, batch acks), seen from a second client."""
    _, seen = await recorder("_INBOX.>")
    return seen


async def _stored_ids(nats_url: str, stream: str = "VOICE") -> list[str]:
    return [str(e.event_id) for e in await stream_events(nats_url, stream=stream)]


def _batches_stored() -> float:
    """`parley_outbox_batches_total{outcome="stored"}` as this process's /metrics would show it."""
    return metric_total(prometheus_text().decode(), "parley_outbox_batches_total", 'outcome="stored"')


async def test_a_large_window_is_stored_with_a_few_answers_instead_of_one_per_message(
    publisher: WindowPublisher, answers: list[Msg], nats_url: str
) -> None:
    setup_telemetry("test", "0")
    batches_before = _batches_stored()
    events = [turn(i + 1) for i in range(400)]
    outcomes, errors = await publisher.publish([message(e) for e in events], timeout=5)
    assert outcomes == [Outcome.STORED] * 400 and errors == [None] * 400
    await asyncio.sleep(0.1)  # time for any further answer to arrive: what is counted is what did not come
    assert len(answers) <= 3  # the batch's start, its end, at most one flow ack: not 400 PubAcks
    assert publisher.fast is not None and publisher.fast.stats["stored"] == 1
    # Sent again (as after a lost answer): one more batch, nothing stored twice.
    outcomes, _ = await publisher.publish([message(e) for e in events], timeout=5)
    assert outcomes == [Outcome.STORED] * 400
    assert sorted(await _stored_ids(nats_url)) == sorted(str(e.event_id) for e in events)
    assert _batches_stored() - batches_before == 2  # what an operator sees on /metrics


async def test_a_small_window_is_acked_message_by_message(publisher: WindowPublisher, answers: list[Msg]) -> None:
    outcomes, _ = await publisher.publish([message(turn(i + 1)) for i in range(FAST_MIN - 1)], timeout=5)
    assert outcomes == [Outcome.STORED] * (FAST_MIN - 1)
    await asyncio.sleep(0.1)  # time for any further answer to arrive
    assert len(answers) == FAST_MIN - 1
    assert publisher.fast is not None and publisher.fast.stats == {"stored": 0, "unsure": 0, "timeout": 0}


async def test_a_refused_message_ends_the_batch_and_the_window_is_sorted_out_message_by_message(
    publisher: WindowPublisher, nats_url: str
) -> None:
    events = [turn(i + 1) for i in range(40)]
    window = [message(e) for e in events]
    window[20] = message(events[20], **{"Nats-Expected-Stream": "NOT-VOICE"})
    outcomes, errors = await publisher.publish(window, timeout=5)
    assert outcomes == [Outcome.STORED] * 20 + [Outcome.REJECTED] + [Outcome.STORED] * 19
    assert errors[20] is not None and errors[20].startswith("400")
    assert publisher.fast is not None and publisher.fast.stats["unsure"] == 1
    # The batch had stored the first 20 before it was abandoned: the resend did not store them again.
    assert sorted(await _stored_ids(nats_url)) == sorted(str(e.event_id) for i, e in enumerate(events) if i != 20)


@pytest.mark.parametrize("big", [0, 5])
async def test_an_oversized_message_ends_the_batch_early_and_the_rest_are_stored_once(
    publisher: WindowPublisher, nats_url: str, big: int
) -> None:
    events = [turn(i + 1) for i in range(40)]
    window = [message(e) for e in events]
    window[big] = (window[big][0], b"x" * (2 * 1024 * 1024), window[big][2])  # over the server's max_payload
    outcomes, _ = await publisher.publish(window, timeout=5)
    assert outcomes == [Outcome.STORED] * big + [Outcome.REJECTED] + [Outcome.STORED] * (39 - big)
    assert publisher.fast is not None and publisher.fast.stats["unsure"] == 1  # settled at once, no timeout
    assert sorted(await _stored_ids(nats_url)) == sorted(str(e.event_id) for i, e in enumerate(events) if i != big)


async def test_a_stream_without_batch_publishing_gets_per_message_acks_and_is_not_tried_again_at_once(
    publisher: WindowPublisher, nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    await nc.jetstream().add_stream(StreamConfig(name="PLAIN", subjects=["plain.>"], duplicate_window=600))
    await nc.close()
    window = [(f"plain.{i}", b"{}", {"Nats-Msg-Id": f"p-{i}"}) for i in range(FAST_MIN)]
    outcomes, _ = await publisher.publish(window, timeout=5)
    assert outcomes == [Outcome.STORED] * FAST_MIN
    assert publisher.fast is not None and publisher.fast.stats["unsure"] == 1
    assert not publisher.fast.usable()  # refused by the stream: paused for a while, not one failed batch per window
    outcomes, _ = await publisher.publish(window, timeout=5)
    assert outcomes == [Outcome.STORED] * FAST_MIN
    assert publisher.fast.stats["unsure"] == 1


async def test_a_late_answer_of_a_timed_out_batch_is_not_taken_for_the_next_one(
    publisher: WindowPublisher, recorder: Recorder
) -> None:
    silent, held = await recorder("silent.>")
    window = [(f"silent.{i}", b"{}", {"Nats-Msg-Id": f"s-{i}"}) for i in range(FAST_MIN)]
    outcomes, errors = await publisher.publish(window, timeout=0.3)
    assert outcomes == [Outcome.RETRY] * FAST_MIN  # nobody answered the batch in time
    assert errors[0] is not None and "no answer" in errors[0]

    first_end = held[FAST_MIN].reply  # <inbox>.<batch>.<flow>.<gap>.<seq>.<op>.$FI
    first_batch = first_end.rsplit(".", 6)[-6]
    await publisher.publish(window, timeout=0.2)  # after an unanswered batch, one window goes message by message

    held.clear()
    third = asyncio.create_task(publisher.publish(window, timeout=1))  # a batch again
    await eventually(lambda: len(held) >= FAST_MIN + 1, interval=0.01, what="its messages and its end marker")
    assert held[-1].reply.endswith(".$FI") and held[-1].reply.rsplit(".", 6)[-6] != first_batch
    late: dict[str, Any] = {"stream": "VOICE", "seq": 9, "batch": first_batch, "count": FAST_MIN}
    await silent.publish(first_end, json.dumps(late).encode())
    outcomes, _ = await third
    assert outcomes == [Outcome.RETRY] * FAST_MIN  # the first batch's answer did not settle this one


async def test_after_an_unanswered_batch_the_next_window_goes_message_by_message(
    publisher: WindowPublisher, recorder: Recorder
) -> None:
    _, held = await recorder("silent.>")  # takes the messages, answers none: a server that never ends batches
    window = [(f"silent.{i}", b"{}", {"Nats-Msg-Id": f"s-{i}"}) for i in range(FAST_MIN)]
    kinds = []
    for _ in range(3):
        held.clear()
        outcomes, _ = await publisher.publish(window, timeout=0.2)
        assert outcomes == [Outcome.RETRY] * FAST_MIN
        kinds.append("batch" if held[0].reply.endswith(".$FI") else "each")
    assert kinds == ["batch", "each", "batch"]  # a retry is not stuck on batches that never end


@pytest.mark.parametrize(("version", "expected"), [("2.15.1", True), ("2.14.0", True), ("2.12.8", False)])
def test_fast_ingest_needs_nats_server_2_14(version: str, expected: bool) -> None:
    major, minor, _ = (int(part) for part in version.split("."))
    client: Any = SimpleNamespace(connected_server_version=SimpleNamespace(major=major, minor=minor))
    assert fast_ingest.supported(client) is expected


async def test_provision_allows_batch_publishing_on_the_voice_stream_only(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    assert (await js.stream_info("VOICE")).config.allow_batched is True
    assert not (await js.stream_info("DLQ")).config.allow_batched
    await nc.close()
