"""Erasure on request in real Postgres and JetStream: rows go, the id is retired, the streams are purged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import nats
import pytest
from litestar.testing import AsyncTestClient
from nats.aio.client import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_devstack.ports import free_port
from parley_history import erasure, propagation
from parley_history.app import create_app
from parley_history.consumers import dead_letter_watch
from parley_history.handlers import persist
from parley_history.propagation import NatsErasureBus
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from parley_runtime.messaging.consume import Consumer
from tests.support import eventually

from .conftest import API_KEY, T0, ended, joined, started, stored_rows, turn
from .helpers import consume_until_drained

AUTH = {"Authorization": f"Bearer {API_KEY}"}


async def _call(store: SqlHistoryStore, conv: str, sess: str, turns: int) -> None:
    await persist([started(conv, sess), *(turn(conv, sess, n) for n in range(1, turns + 1))], store)
    await persist([ended(conv, sess, turns)], store)


async def test_erasing_deletes_the_conversation_and_nothing_else(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await _call(store, "gone", "gone-s1", 3)
    await _call(store, "gone", "gone-s2", 2)
    await _call(store, "kept", "kept-s1", 2)

    first = await erasure.erase(engine, "gone")
    assert (first.turns_deleted, first.sessions_deleted) == (5, 2)
    assert first.published_at is None and first.purged_at is None
    assert await stored_rows(engine) == {
        "conversations": ["kept"],
        "sessions": ["kept-s1"],
        "turns": ["kept-s1:1", "kept-s1:2"],
    }
    again = await erasure.erase(engine, "gone")  # repeating the request is harmless
    assert (again.event_id, again.requested_at, again.turns_deleted) == (first.event_id, first.requested_at, 5)
    assert await erasure.get(engine, "kept") is None


async def test_events_arriving_after_the_erasure_are_dropped(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)  # its KnownRows still remembers the erased session
    await _call(store, "gone", "gone-s1", 2)
    await erasure.erase(engine, "gone")

    # The call was still running, and a redelivery comes too; another conversation shares the batch.
    late = [turn("gone", "gone-s1", 3), turn("gone", "gone-s1", 1), started("other", "other-s1")]
    await persist([*late, turn("other", "other-s1", 1), ended("gone", "gone-s1", 3)], store)
    await persist([started("gone", "gone-s9"), turn("gone", "gone-s9", 1)], SqlHistoryStore(engine))

    assert await stored_rows(engine) == {"conversations": ["other"], "sessions": ["other-s1"], "turns": ["other-s1:1"]}
    assert store.erased_dropped == 2
    record = await erasure.get(engine, "gone")
    assert record is not None and record.late_event_at is not None  # the streams hold them again: purge again


async def test_a_batch_in_flight_during_the_erasure_is_erased_with_the_rest(
    engine: AsyncEngine, history_db: str
) -> None:
    await _call(SqlHistoryStore(engine), "gone", "gone-s1", 1)
    # A consumer's batch transaction, as `store` runs it: hold the conversation, then write a turn.
    batch = await asyncpg.connect(history_db.replace("postgresql+asyncpg://", "postgresql://"))
    tx = batch.transaction()
    await tx.start()
    assert await batch.fetch("SELECT * FROM history.hold_conversations($1::text[])", ["gone"]) == []
    await batch.execute(
        "INSERT INTO history.turns (event_id, conversation_id, session_id, seq, role, text, occurred_at)"
        " VALUES (gen_random_uuid(), 'gone', 'gone-s1', 2, 'user', 'in flight', $1)",
        T0 + timedelta(seconds=2),
    )
    erase = asyncio.create_task(erasure.erase(engine, "gone"))
    await asyncio.sleep(0.5)  # time in which an erasure that did not wait would have finished
    assert not erase.done()  # the erasure waits for the batch to commit ...
    await tx.commit()
    await batch.close()
    record = await asyncio.wait_for(erase, 10)
    assert record.turns_deleted == 2  # ... and then deletes what it wrote
    assert await stored_rows(engine) == {"conversations": [], "sessions": [], "turns": []}


async def _subjects(nc: Client, stream: str) -> list[str]:
    info = await nc.jetstream().stream_info(stream, subjects_filter=">")
    return sorted((info.state.subjects or {}).keys())


async def test_propagation_publishes_the_event_once_and_purges_the_streams(engine: AsyncEngine, nc: Client) -> None:
    js = nc.jetstream()
    for event in (started("gone", "gone-s1"), turn("gone", "gone-s1", 1), turn("kept", "kept-s1", 1)):
        await js.publish(c.subject_for(event), c.encode(event))
    await js.publish("dlq.voice.turn_completed.v1.gone", b"{}")  # a dead letter of the erased conversation
    await js.publish("dlq.voice.turn_completed.v1.kept", b"{}")
    await erasure.erase(engine, "gone")
    bus = NatsErasureBus(nc)

    assert await erasure.propagate(engine, bus) == 1
    assert await _subjects(nc, "VOICE") == ["voice.conversation_erased.v1.gone", "voice.turn_completed.v1.kept"]
    assert await _subjects(nc, "DLQ") == ["dlq.voice.turn_completed.v1.kept"]
    record = await erasure.get(engine, "gone")
    assert record is not None and record.published_at is not None and record.purged_at is not None
    assert await erasure.propagate(engine, bus) == 0  # nothing left to do

    # A late turn lands in the stream and reaches the consumer: it is dropped, and purged on the next round.
    late = turn("gone", "gone-s1", 2)
    await js.publish(c.subject_for(late), c.encode(late))
    await persist([late], SqlHistoryStore(engine))
    assert await erasure.propagate(engine, bus) == 1
    assert "voice.turn_completed.v1.gone" not in await _subjects(nc, "VOICE")

    # Published again (a replica that stopped before recording it): JetStream keeps one copy.
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE history.erasures SET published_at = NULL"))
    assert await erasure.propagate(engine, bus) == 1
    info = await js.stream_info("VOICE", subjects_filter="voice.conversation_erased.v1.*")
    assert info.state.subjects == {"voice.conversation_erased.v1.gone": 1}
    msg = await js.get_last_msg("VOICE", "voice.conversation_erased.v1.gone")
    erased = c.decode(msg.data or b"")
    assert isinstance(erased, c.ConversationErased) and erased.event_id == record.event_id


async def test_a_late_event_of_a_type_history_does_not_store_is_purged_too(
    engine: AsyncEngine, nc: Client, nats_url: str
) -> None:
    js = nc.jetstream()
    await erasure.erase(engine, "gone")
    bus = NatsErasureBus(nc)
    assert await erasure.propagate(engine, bus) == 1
    # The consumer passes over the erasure event itself: it stays in the stream and starts no new round.
    await consume_until_drained(nc, engine, nats_url)
    assert await erasure.propagate(engine, bus) == 0

    # A participant of the call still running leaves after the purge; rooms publishes it (a name, no text).
    for event in (joined("gone", "gone-s1"), joined("kept", "kept-s1")):
        await js.publish(c.subject_for(event), c.encode(event))
    consumer = await consume_until_drained(nc, engine, nats_url)
    assert consumer.stats.skipped == 2  # passed over unread, as before, but noticed
    assert await erasure.propagate(engine, bus) == 1
    assert await _subjects(nc, "VOICE") == ["voice.conversation_erased.v1.gone", "voice.participant_joined.v1.kept"]
    assert await erasure.propagate(engine, bus) == 0


async def _watch_dead_letters(nc: Client, engine: AsyncEngine) -> Consumer:
    """Run history's DLQ watch until it has seen every dead letter; returns it for its stats."""
    watch = dead_letter_watch(nc, SqlHistoryStore(engine))
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop))

    async def watched() -> bool:
        info = await nc.jetstream().consumer_info("DLQ", "history-dlq")
        return bool(info.num_pending == 0 and info.num_ack_pending == 0 and watch.stats.batches)

    await eventually(watched, timeout=10, interval=0.1, what="the dead letters watched")
    stop.set()
    await task
    return watch


async def test_a_dead_letter_made_after_the_purge_is_purged_too(engine: AsyncEngine, nc: Client) -> None:
    js = nc.jetstream()
    await erasure.erase(engine, "gone")
    bus = NatsErasureBus(nc)
    assert await erasure.propagate(engine, bus) == 1
    await js.publish("dlq.voice.conversation_erased.v1.gone", b"{}")  # the erasure itself starts no round
    await _watch_dead_letters(nc, engine)
    assert await erasure.propagate(engine, bus) == 0

    # Later, a consumer gives up on a late event of the conversation: the copier dead-letters it, with its
    # text. The watch reads subjects only, so an undecodable payload is no obstacle.
    await js.publish("dlq.voice.turn_completed.v1.gone", b"not json, and a transcript")
    await js.publish("dlq.voice.turn_completed.v1.kept", b"{}")
    watch = await _watch_dead_letters(nc, engine)
    assert watch.stats.skipped == 2 and watch.stats.terminated == 0
    assert await erasure.propagate(engine, bus) == 1
    assert await _subjects(nc, "DLQ") == ["dlq.voice.conversation_erased.v1.gone", "dlq.voice.turn_completed.v1.kept"]
    assert await erasure.propagate(engine, bus) == 0


async def test_an_erasure_recorded_while_nats_is_down_is_propagated_later(engine: AsyncEngine, nc: Client) -> None:
    class Down:
        async def publish(self, event: c.ConversationErased) -> None:
            raise nats.errors.NoRespondersError

        async def purge(self, conversation_id: str) -> None:
            raise AssertionError("no purge before the event is published")

    await erasure.erase(engine, "gone")
    with pytest.raises(nats.errors.NoRespondersError):
        await erasure.propagate(engine, Down())
    record = await erasure.get(engine, "gone")
    assert record is not None and record.published_at is None
    assert await erasure.propagate(engine, NatsErasureBus(nc)) == 1
    assert await _subjects(nc, "VOICE") == ["voice.conversation_erased.v1.gone"]


async def test_the_gauges_show_an_erasure_stuck_while_nats_refuses_it(engine: AsyncEngine, nc: Client) -> None:
    class Refused(NatsErasureBus):
        async def publish(self, event: c.ConversationErased) -> None:
            raise nats.errors.NoRespondersError

    await erasure.erase(engine, "gone", now=datetime.now(UTC) - timedelta(minutes=20))
    await erasure.erase(engine, "gone-too")
    with pytest.raises(nats.errors.NoRespondersError):
        await propagation._round(engine, Refused(nc))  # the round fails, and still measures
    assert propagation._reading.unfinished == 2
    assert 20 * 60 <= propagation._reading.oldest_seconds < 25 * 60

    await propagation._round(engine, NatsErasureBus(nc))
    assert (propagation._reading.unfinished, propagation._reading.oldest_seconds) == (0, 0.0)

    # An old erasure purged again for a late event has waited since that event, not since its request.
    await SqlHistoryStore(engine).note_late(["gone"])
    waiting = await erasure.backlog(engine)
    assert waiting.unfinished == 1 and waiting.oldest_seconds < 60


async def test_the_api_erases_and_reports_until_every_copy_is_gone(
    engine: AsyncEngine, nc: Client, settings: Settings
) -> None:
    await _call(SqlHistoryStore(engine), "gone", "gone-s1", 2)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.delete("/v1/conversations/gone")).status_code == 401
        bad = await client.delete("/v1/conversations/no.dots", headers=AUTH)
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
        missing = await client.get("/v1/erasures/gone", headers=AUTH)
        assert missing.status_code == 404 and missing.json()["detail"] == "conversation gone was not erased"

        r = await client.delete("/v1/conversations/gone", headers=AUTH)
        assert r.status_code == 202
        assert {k: r.json()[k] for k in ("conversation_id", "turns_deleted", "sessions_deleted")} == {
            "conversation_id": "gone", "turns_deleted": 2, "sessions_deleted": 1}  # fmt: skip
        assert (await client.get("/v1/conversations/gone", headers=AUTH)).status_code == 404
        again = await client.delete("/v1/conversations/gone", headers=AUTH)
        assert again.status_code == 202 and again.json()["event_id"] == r.json()["event_id"]

        async def done() -> dict[str, Any] | None:  # the service propagates it in the background
            status: dict[str, Any] = (await client.get("/v1/erasures/gone", headers=AUTH)).json()
            return status if status["status"] == "done" else None

        status = await eventually(done, timeout=10, interval=0.1, what="the erasure propagated")
        assert status["event_published"] and status["streams_purged"], status
    info = await nc.jetstream().stream_info("VOICE", subjects_filter=">")
    assert info.state.subjects == {"voice.conversation_erased.v1.gone": 1}  # published once


async def test_the_api_lists_erasures_oldest_first_and_which_are_still_propagating(
    engine: AsyncEngine, nc: Client, settings: Settings
) -> None:
    now = datetime.now(UTC)
    for minutes, conversation in ((30, "done-one"), (20, "stuck-one"), (10, "stuck-two")):
        await erasure.erase(engine, conversation, now=now - timedelta(minutes=minutes))
    async with engine.begin() as conn:  # as if NATS had been reachable for the first one only
        await conn.execute(text("UPDATE history.erasures SET published_at = now(), purged_at = now()"
                                " WHERE conversation_id = 'done-one'"))  # fmt: skip
    # NATS unreachable for the service: nothing propagates while we look.
    offline = msgspec.structs.replace(settings, nats_url=f"nats://127.0.0.1:{free_port()}")
    async with AsyncTestClient(app=create_app(offline)) as client:
        assert (await client.get("/v1/erasures")).status_code == 401

        async def ids(**params: str | int) -> tuple[list[str], str | None]:
            r = await client.get("/v1/erasures", params=params, headers=AUTH)
            assert r.status_code == 200, r.text
            return [e["conversation_id"] for e in r.json()["items"]], r.json()["next_cursor"]

        assert await ids(status="propagating") == (["stuck-one", "stuck-two"], None)
        assert await ids(status="done") == (["done-one"], None)
        walked, cursor = [], None
        while True:  # one at a time, by cursor, oldest first
            page, cursor = await ids(limit=1, **({"cursor": cursor} if cursor else {}))
            walked += page
            if cursor is None:
                break
        assert walked == ["done-one", "stuck-one", "stuck-two"]
        for bad in ({"status": "stuck"}, {"cursor": "not-a-cursor"}):
            r = await client.get("/v1/erasures", params=bad, headers=AUTH)
            assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
