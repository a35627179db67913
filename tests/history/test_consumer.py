"""The history consumer end to end: real JetStream -> consume loop -> Postgres -> REST."""

from __future__ import annotations

import itertools
import logging
import random
import string
from datetime import datetime, timedelta, timezone

import msgspec
import nats
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_devstack.testing import provisioned
from parley_history.app import create_app
from parley_history.settings import Settings
from parley_runtime.messaging.provision import provision

from .conftest import API_KEY, joined, turn
from .helpers import consume_until_drained, count_turns, publish_all, wait_drained


async def test_ten_thousand_shuffled_turns_with_duplicates_end_as_exactly_ten_thousand_rows(
    settings: Settings, engine: AsyncEngine, nats_url: str
) -> None:
    await provisioned(nats_url)
    rng = random.Random(42)
    events = [turn(f"conv-{i:03d}", f"sess-{i:03d}", seq) for i in range(100) for seq in range(1, 101)]
    # 5% duplicates under a different Msg-Id (as if re-sent outside the de-duplication window), so they
    # really reach the consumer; the other copies are exact retries the stream itself drops.
    dupes = rng.sample(events, 500)
    wire = [(e, str(e.event_id)) for e in events] + [(e, f"resend-{e.event_id}") for e in dupes]
    wire += [(e, str(e.event_id)) for e in rng.sample(events, 100)]
    rng.shuffle(wire)
    await publish_all(nats_url, wire)

    async with AsyncTestClient(app=create_app(settings)) as client:
        await wait_drained(nats_url, "history")
        assert await count_turns(engine) == 10_000
        auth = {"Authorization": f"Bearer {API_KEY}"}
        for i in range(100):
            body = (await client.get(f"/v1/sessions/sess-{i:03d}", headers=auth)).json()
            assert [t["seq"] for t in body["turns"]] == list(range(1, 101))
            assert body["session"]["stored_turns"] == 100


async def test_events_history_does_not_handle_are_acked_unread_and_turns_still_land(
    engine: AsyncEngine, nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    participant = joined("conv-skip", "sess-skip")
    turns_in = [turn("conv-skip", "sess-skip", seq) for seq in (1, 2, 3)]
    await publish_all(nats_url, [(e, str(e.event_id)) for e in [participant, *turns_in]])
    # Garbage on a subject history does not handle: not decoded, so not history's to dead-letter.
    await js.publish("voice.participant_left.v1.conv-skip", b"{not json", headers={"Nats-Msg-Id": "garbage-1"})

    consumer = await consume_until_drained(nc, engine, nats_url)
    await nc.close()

    assert await count_turns(engine) == 3
    assert consumer.stats.acked == 3
    assert consumer.stats.skipped == 2
    assert consumer.stats.terminated == 0


def _unindexable() -> str:
    """About 780 kB of distinct words (the message fits NATS's 1 MiB) whose tsvector passes Postgres's 1 MB."""
    words = ("".join(w) for w in itertools.product(string.ascii_lowercase, repeat=5))
    return "secret " + " ".join(itertools.islice(words, 130_000))


# A time RFC 3339 admits that has no UTC equivalent: the driver cannot encode it.
NO_UTC = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))


@pytest.mark.parametrize(
    ("text", "at", "started_at"),
    [
        ("secret \x00 words", None, None),
        (_unindexable(), None, None),
        ("secret words", NO_UTC, None),  # refused by the driver, as PostgreSQL's DataError
        ("secret words", None, NO_UTC),  # a column only the turn's COPY writes: the driver's OverflowError
    ],
    ids=["nul", "past-tsvector-limit", "time-without-utc", "speech-time-without-utc"],
)
async def test_turn_postgres_cannot_store_is_dead_lettered_at_once_and_its_batch_mates_land(
    engine: AsyncEngine,
    nats_url: str,
    caplog: pytest.LogCaptureFixture,
    text: str,
    at: datetime | None,
    started_at: datetime | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    nc = await nats.connect(nats_url)
    await provision(nc.jetstream())
    good = [turn("conv-nul", "sess-nul", seq) for seq in (1, 2, 4)]
    # Valid JSON and contract, yet Postgres cannot store it.
    bad = msgspec.structs.replace(turn("conv-nul", "sess-nul", 3, text, at=at), started_at=started_at)
    await publish_all(nats_url, [(e, str(e.event_id)) for e in [good[0], good[1], bad, good[2]]])

    consumer = await consume_until_drained(nc, engine, nats_url)
    await nc.close()

    assert await count_turns(engine) == 3
    assert consumer.stats.terminated == 1
    assert consumer.stats.max_num_delivered == 1  # dead-lettered on its first delivery, not after 40
    # The failure is logged with its reason, and never with the turn's text (no transcript text in logs).
    terminated = [r for r in caplog.records if r.getMessage() == "message terminated"]
    assert len(terminated) == 1 and terminated[0].__dict__["reason"].startswith("rejected:"), terminated[0].__dict__
    assert not [r for r in caplog.records if "secret" in r.getMessage() or "secret" in repr(r.__dict__)]
