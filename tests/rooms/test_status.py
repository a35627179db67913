"""Room status follows the agent's session events, whatever their order and however often they arrive."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import msgspec
import nats
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_rooms.db import make_engine
from parley_rooms.events import apply_session_events
from parley_rooms.ports import NewRoom
from parley_rooms.store import SqlRoomStore, get_room, insert_room
from parley_runtime.messaging.dlq import REASON_HEADER, DeadLetterCopier
from tests.support import eventually

from .conftest import AUTH

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _started(room: str, sess: str) -> c.SessionStarted:
    return c.SessionStarted(
        event_id=uuid4(),
        occurred_at=T0,
        conversation_id="conv",
        session_id=sess,
        producer="t",
        room_name=room,
        agent_name="parley-agent",
        started_at=T0,
    )


def _ended(sess: str) -> c.SessionEnded:
    end = T0 + timedelta(seconds=90)
    return c.SessionEnded(
        event_id=uuid4(),
        occurred_at=end,
        conversation_id="conv",
        session_id=sess,
        producer="t",
        reason="participant_disconnected",
        started_at=T0,
        ended_at=end,
        duration_seconds=90,
        turn_count=4,
    )


def _lost(sess: str) -> c.SessionEnded:
    """The end history publishes for a session whose agent died (lost_sessions): shorter, reason agent_lost."""
    at = T0 + timedelta(seconds=30)
    end = msgspec.structs.replace(_ended(sess), event_id=uuid4(), producer="history", reason=c.AGENT_LOST)
    return msgspec.structs.replace(end, occurred_at=at, ended_at=at, duration_seconds=30)


async def _in_status(client: AsyncTestClient[Litestar], name: str, status: str) -> dict[str, Any] | None:
    """The room as the API shows it, once it is in `status`."""
    room: dict[str, Any] = (await client.get(f"/v1/rooms/{name}", headers=AUTH)).json()
    return room if room["status"] == status else None


@pytest.fixture
async def engine(rooms_db: str) -> AsyncEngine:
    eng = make_engine(rooms_db, pool_size=2)
    async with eng.begin() as conn:
        for i in range(6):
            await insert_room(conn, NewRoom(f"room-{i}", "conv", None, "parley-agent", {}, f"RM_{i}", T0))
    return eng


async def _status(engine: AsyncEngine, room: str) -> tuple[str, str | None, float | None]:
    async with engine.connect() as conn:
        row = await get_room(conn, room)
    assert row is not None
    return row.status, row.agent_session_id, row.session_duration_seconds


async def test_started_then_ended_goes_waiting_active_ended(engine: AsyncEngine) -> None:
    assert (await _status(engine, "room-0"))[0] == "waiting"
    await apply_session_events([_started("room-0", "s0")], store=SqlRoomStore(engine))
    assert await _status(engine, "room-0") == ("active", "s0", None)
    await apply_session_events([_ended("s0")], store=SqlRoomStore(engine))
    assert await _status(engine, "room-0") == ("ended", "s0", 90.0)
    await engine.dispose()


async def test_every_order_and_duplication_ends_in_the_same_status(engine: AsyncEngine) -> None:
    orders = list(itertools.permutations(["start", "end", "start-again", "end-again"]))[:6]
    for i, order in enumerate(orders):
        room, sess = f"room-{i}", f"s{i}"
        start, end = _started(room, sess), _ended(sess)
        by_name = {"start": start, "end": end, "start-again": start, "end-again": end}
        for name in order:  # one event per batch, as redeliveries arrive
            await apply_session_events([by_name[name]], store=SqlRoomStore(engine))
        assert await _status(engine, room) == ("ended", sess, 90.0), order
    await engine.dispose()


async def _reason(engine: AsyncEngine, room: str) -> tuple[str | None, float | None]:
    async with engine.connect() as conn:
        row = await get_room(conn, room)
    assert row is not None
    return row.session_end_reason, row.session_duration_seconds


async def test_the_agents_own_end_replaces_a_lost_agent_end_and_never_the_reverse(engine: AsyncEngine) -> None:
    own = ("participant_disconnected", 90.0)
    # Separate batches: the lost-agent end first (history's), then the agent's own, replayed late.
    await apply_session_events([_started("room-0", "s0"), _lost("s0")], store=SqlRoomStore(engine))
    assert await _reason(engine, "room-0") == (c.AGENT_LOST, 30.0)
    await apply_session_events([_ended("s0")], store=SqlRoomStore(engine))
    assert await _reason(engine, "room-0") == own
    await apply_session_events([_lost("s0")], store=SqlRoomStore(engine))  # redelivered: changes nothing
    assert await _reason(engine, "room-0") == own
    # One batch, either order.
    for room, sess, batch in (("room-1", "s1", ["lost", "own"]), ("room-2", "s2", ["own", "lost"])):
        events = {"lost": _lost(sess), "own": _ended(sess)}
        await apply_session_events([_started(room, sess), *(events[e] for e in batch)], store=SqlRoomStore(engine))
        assert await _reason(engine, room) == own, batch
    await engine.dispose()


async def test_the_rooms_consumer_applies_session_events_from_jetstream(
    client: AsyncTestClient[Litestar],
    nats_url: str,
) -> None:
    await client.post("/v1/rooms", json={"name": "call-s"}, headers=AUTH)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    ended, started = _ended("s-live"), _started("call-s", "s-live")
    for e in (ended, started, ended):  # out of order and duplicated
        await js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": f"{e.event_id}-{time.time_ns()}"})
    await nc.close()
    room = await eventually(lambda: _in_status(client, "call-s", "ended"), what="the room ended")
    assert room["agent_session_id"] == "s-live"
    assert room["duration_seconds"] == 90.0
    assert room["end_reason"] == "participant_disconnected"


@pytest.mark.parametrize(
    ("bad", "mention"),
    [
        (_started("call-\x00", "s-nul"), "22021"),
        # A time RFC 3339 admits that has no UTC equivalent: the driver cannot encode it.
        (
            msgspec.structs.replace(
                _started("call-t", "s-old"), started_at=datetime.fromisoformat("0001-01-01T00:00:00+14:00")
            ),
            "out of range",
        ),
    ],
    ids=["nul", "time-without-utc"],
)
async def test_an_event_with_a_value_postgres_cannot_store_is_dead_lettered_at_once(
    client: AsyncTestClient[Litestar],
    nats_url: str,
    bad: c.SessionStarted,
    mention: str,
) -> None:
    # Retrying cannot help, so it goes to the DLQ on its first delivery, not after max_deliver deliveries
    # spread over minutes, and the events behind it are applied.
    await client.post("/v1/rooms", json={"name": "call-t"}, headers=AUTH)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    copier = asyncio.create_task(DeadLetterCopier(js).run(stop))
    dlq = await js.subscribe("dlq.>", stream="DLQ", ordered_consumer=True)
    for e in (bad, _started("call-t", "s-good")):
        await js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": str(e.event_id)})
    dead = await dlq.next_msg(timeout=5)
    stop.set()
    await copier
    await nc.close()
    assert c.decode(dead.data) == bad
    reason = (dead.headers or {})[REASON_HEADER]
    assert reason.startswith("rejected:") and mention in reason and "\x00" not in reason
    room = await eventually(lambda: _in_status(client, "call-t", "active"), timeout=10, what="the room active")
    assert room["agent_session_id"] == "s-good"
