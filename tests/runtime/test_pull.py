"""The lean pull subscription (parley_runtime.messaging.pull) against a real JetStream server."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

import parley_contracts as c
from parley_runtime.messaging.connection import subscriptions_confirmed
from parley_runtime.messaging.pull import REFUSED_PAUSE, PullSubscription
from tests.runtime.conftest import headers_for, turn

DURABLE = "pull-test"
NEXT = f"$JS.API.CONSUMER.MSG.NEXT.VOICE.{DURABLE}"


@pytest.fixture
async def sub(nc: Client) -> AsyncIterator[PullSubscription]:
    await nc.jetstream().add_consumer(
        "VOICE",
        ConsumerConfig(
            durable_name=DURABLE, ack_policy=AckPolicy.EXPLICIT, filter_subjects=["voice.turn_completed.v1.pull"]
        ),
    )
    subscription = await PullSubscription(nc, "VOICE", DURABLE).start()
    yield subscription
    await subscription.unsubscribe()


async def publish(nc: Client, seq: int) -> None:
    event = turn(seq, conversation="pull")
    await nc.jetstream().publish(c.subject_for(event), c.encode(event), headers=headers_for(event))


@pytest.fixture
async def pull_requests(nc: Client) -> AsyncIterator[list[Msg]]:
    """Every pull request the client sends for DURABLE, as the server receives it (a plain subscriber)."""
    requests: list[Msg] = []

    async def record(msg: Msg) -> None:
        requests.append(msg)

    spy = await nc.subscribe(NEXT, cb=record)
    await subscriptions_confirmed(nc)
    yield requests
    await spy.unsubscribe()


def seqs(msgs: list[Msg]) -> list[int]:
    return [c.decode(m.data).seq for m in msgs]  # type: ignore[union-attr]


async def test_messages_flow_to_one_open_request_across_fetches(
    nc: Client, sub: PullSubscription, pull_requests: list[Msg]
) -> None:
    await publish(nc, 1)
    first = await sub.fetch(10, timeout=5)
    await publish(nc, 2)
    second = await sub.fetch(10, timeout=5)

    assert seqs(first) == [1]
    assert seqs(second) == [2]
    assert len(pull_requests) == 1  # the second batch came on the request the first fetch opened


async def test_a_request_the_server_ends_during_a_fetch_is_replaced_at_once(nc: Client, sub: PullSubscription) -> None:
    # A fetch leaves its request open; here it expires (408) while the next fetch waits with nothing in hand.
    await publish(nc, 1)
    assert seqs(await sub.fetch(10, timeout=0.3)) == [1]

    later = asyncio.create_task(_publish_later(nc, 2, delay=0.6))  # after the 408 of the open request
    started = time.monotonic()
    # Before the fix this fetch stayed deaf until its own timeout (5 s): the 408 closed the only request.
    batch = await asyncio.wait_for(sub.fetch(10, timeout=5), timeout=2)
    await later

    assert seqs(batch) == [2]
    assert time.monotonic() - started < 2


async def test_a_late_status_of_an_older_request_does_not_end_the_current_one(
    nc: Client, sub: PullSubscription, pull_requests: list[Msg], nats_url: str
) -> None:
    await publish(nc, 1)
    assert seqs(await sub.fetch(10, timeout=0.3)) == [1]
    await asyncio.sleep(0.5)  # the first request has expired
    await publish(nc, 2)
    assert seqs(await sub.fetch(10, timeout=5)) == [2]  # on a second request
    assert len(pull_requests) == 2
    # A 408 for the first request, as a server sends it when the client counted its expiry first.
    await _raw_status(nats_url, pull_requests[0].reply, "408 Request Timeout")
    await asyncio.sleep(0.1)  # delivered to the subscription
    later = asyncio.create_task(_publish_later(nc, 3, delay=0.1))
    assert seqs(await sub.fetch(10, timeout=5)) == [3]
    await later

    assert len(pull_requests) == 2  # the stale 408 did not make the client ask again


async def test_a_refused_request_is_asked_again_after_a_pause_not_in_a_loop(nc: Client, sub: PullSubscription) -> None:
    await nc.jetstream().delete_consumer("VOICE", DURABLE)  # every request now gets "503 no responders"
    sent_before = nc.stats["out_msgs"]  # a watcher on the request subject would answer for the server
    with pytest.raises(TimeoutError):
        await sub.fetch(10, timeout=1)
    requests = nc.stats["out_msgs"] - sent_before

    assert 2 <= requests <= 1 + 1 / REFUSED_PAUSE + 1  # it keeps asking, a few times a second


async def _publish_later(nc: Client, seq: int, *, delay: float) -> None:
    await asyncio.sleep(delay)
    await publish(nc, seq)


async def _raw_status(url: str, subject: str, status: str) -> None:
    """Publish a header-only status message (what the server sends to end a pull request) over a raw socket."""
    parsed = urlparse(url)
    header = f"NATS/1.0 {status}\r\n\r\n".encode()

    def send() -> None:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 4222), timeout=5) as s:
            s.recv(4096)  # INFO
            s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\n')
            s.sendall(f"HPUB {subject} {len(header)} {len(header)}\r\n".encode() + header + b"\r\nPING\r\n")
            reply = b""
            while b"PONG" not in reply:
                reply += s.recv(4096)

    await asyncio.to_thread(send)
