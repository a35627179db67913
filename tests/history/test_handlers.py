"""Persisting batches into real Postgres: idempotent, order-tolerant, exact turn counts."""

from __future__ import annotations

import asyncio
import contextlib
import random
from uuid import uuid4

import msgspec
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_history.handlers import persist, plan
from parley_history.models import conversations, turns
from parley_history.queries import get_session, session_handoffs
from parley_history.store import SqlHistoryStore
from parley_runtime.messaging.handling import TransientError

from .conftest import T0, ended, started, turn


async def _turn_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(turns))).scalar_one())


async def _session(engine: AsyncEngine, sid: str) -> dict[str, object]:
    async with engine.connect() as conn:
        found = await get_session(conn, sid)
    assert found is not None
    return msgspec.structs.asdict(found[0])


async def test_redelivered_turn_is_stored_once(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    batch = [started("c1", "s1"), turn("c1", "s1", 1), turn("c1", "s1", 2)]
    await persist(batch, store)
    await persist(batch, store)
    await persist(batch[1:2], store)
    assert await _turn_count(engine) == 2
    assert (await _session(engine, "s1"))["stored_turns"] == 2


async def test_same_seq_emitted_again_with_a_new_event_id_is_not_stored_twice(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await persist([turn("c1", "s1", 1, "first")], store)
    await persist([turn("c1", "s1", 1, "re-emitted")], store)
    assert await _turn_count(engine) == 1
    assert (await _session(engine, "s1"))["stored_turns"] == 1


async def test_turn_before_its_session_started_converges_to_the_same_state(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await persist([turn("c1", "s1", 1)], store)
    pending = await _session(engine, "s1")
    assert pending["started_at"] is None
    await persist([started("c1", "s1", user="ada")], store)
    session = await _session(engine, "s1")
    assert session["room_name"] == "room-s1"
    assert session["user_id"] == "ada"
    assert session["started_at"] is not None
    assert session["stored_turns"] == 1
    async with engine.connect() as conn:
        conv = (await conn.execute(select(conversations).where(conversations.c.id == "c1"))).one()
    assert conv.user_id == "ada"


async def test_session_ended_before_its_last_turns_is_incomplete_until_they_arrive(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await persist([started("c1", "s1"), turn("c1", "s1", 1), ended("c1", "s1", 3)], store)
    session = await _session(engine, "s1")
    assert session["incomplete"] is True
    assert session["expected_turns"] == 3
    assert session["ended_at"] is not None
    await persist([turn("c1", "s1", 2)], store)
    assert (await _session(engine, "s1"))["incomplete"] is True
    await persist([turn("c1", "s1", 3)], store)
    session = await _session(engine, "s1")
    assert session["incomplete"] is False
    assert session["stored_turns"] == 3


async def test_any_order_and_duplication_of_a_sessions_events_gives_one_final_state(engine: AsyncEngine) -> None:
    events = [started("c1", "s1"), *[turn("c1", "s1", i) for i in range(1, 7)], ended("c1", "s1", 6)]
    store = SqlHistoryStore(engine)
    rng = random.Random(7)
    shuffled = events + rng.sample(events, 4)
    rng.shuffle(shuffled)
    for chunk_start in range(0, len(shuffled), 3):
        await persist(shuffled[chunk_start : chunk_start + 3], store)
    session = await _session(engine, "s1")
    assert await _turn_count(engine) == 6
    assert session["stored_turns"] == 6
    assert session["incomplete"] is False
    assert session["ended_at"] is not None
    assert session["room_name"] == "room-s1"


def test_plan_ignores_event_types_history_does_not_store() -> None:
    from .conftest import joined

    joined_event = joined("c1", "s1")
    assert plan([joined_event]).empty


async def test_batch_holding_an_already_stored_turn_stores_each_turn_once(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    first = turn("c1", "s1", 1)
    await persist([started("c1", "s1"), first], store)
    assert store.copy_fallbacks == 0  # a new batch goes in by COPY
    await persist([turn("c1", "s1", 2), first, turn("c1", "s1", 3)], store)
    assert store.copy_fallbacks == 1  # the stored turn made COPY fail; the idempotent insert ran instead
    assert await _turn_count(engine) == 3
    assert (await _session(engine, "s1"))["stored_turns"] == 3


async def test_rows_deleted_behind_the_stores_back_are_written_again_on_retry(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await persist([started("c1", "s1"), turn("c1", "s1", 1)], store)
    async with engine.begin() as conn:  # a restore from an older backup, say
        for table in ("turns", "sessions", "conversations"):
            await conn.execute(text(f"DELETE FROM history.{table}"))
    with pytest.raises(TransientError):  # the store remembered the session; the turn's foreign key says otherwise
        await persist([turn("c1", "s1", 2)], store)
    await persist([turn("c1", "s1", 2)], store)  # the redelivery writes the session row again
    assert await _turn_count(engine) == 1
    assert (await _session(engine, "s1"))["stored_turns"] == 1


async def test_end_of_a_session_deleted_behind_the_stores_back_is_not_lost(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await persist([started("c1", "s1"), turn("c1", "s1", 1)], store)
    async with engine.begin() as conn:
        for table in ("turns", "sessions", "conversations"):
            await conn.execute(text(f"DELETE FROM history.{table}"))
    with pytest.raises(TransientError):  # no turn in this batch: the per-batch session check catches it
        await persist([ended("c1", "s1", 1)], store)
    await persist([ended("c1", "s1", 1)], store)
    assert (await _session(engine, "s1"))["ended_at"] is not None


async def test_writes_cancelled_midway_leave_the_pool_usable_and_store_nothing_twice(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    big = [started("c1", "s1"), *[turn("c1", "s1", seq) for seq in range(1, 3001)]]
    for timeout in (0.002, 0.005, 0.01, 0.02, 0.05):  # a shutdown cancels the batch in hand at any point
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(persist(big, store), timeout=timeout)
    await persist(big, store)
    await persist([turn("c1", "s1", 3001)], store)
    assert await _turn_count(engine) == 3001


async def test_handoffs_are_stored_once_with_their_session_and_turns_name_their_agent(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    handoff = c.AgentHandoff(
        event_id=uuid4(), occurred_at=T0, conversation_id="c1", session_id="s1", producer="agent",
        from_agent="assistant", to_agent="booking", reason="wants to book", at=T0,
    )  # fmt: skip
    spoke = msgspec.structs.replace(turn("c1", "s1", 2), agent="booking")
    for _ in range(2):  # redelivered
        await persist([handoff, started("c1", "s1"), turn("c1", "s1", 1), spoke], store)  # the handoff first
    async with engine.connect() as conn:
        assert [(h.from_agent, h.to_agent, h.reason) for h in await session_handoffs(conn, "s1")] == [
            ("assistant", "booking", "wants to book")]  # fmt: skip
        found = await get_session(conn, "s1")
    assert found is not None and [t.agent for t in found[1]] == [None, "booking"]
