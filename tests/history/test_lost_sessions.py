"""A session whose agent was killed outright gets its end from history: once, and never over the agent's own."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import nats
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_devstack.testing import provisioned, stream_events
from parley_history import erasure
from parley_history.app import create_app
from parley_history.handlers import persist
from parley_history.lost_sessions import end_lost_sessions
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from parley_runtime.messaging.provision import provision
from tests.support import eventually

from .conftest import API_KEY, T0, ended, started, turn

AUTH = {"Authorization": f"Bearer {API_KEY}"}

HOURS_AGO = "UPDATE history.sessions SET received_at = now() - make_interval(hours => :h) WHERE id = ANY(:ids)"


async def _call(engine: AsyncEngine, conv: str, sess: str, turns: int, at: datetime | None = None) -> None:
    store = SqlHistoryStore(engine)
    await persist([started(conv, sess), *(turn(conv, sess, n + 1, at=at) for n in range(turns))], store)


async def _received(engine: AsyncEngine, hours: int, *sessions: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(HOURS_AGO), {"h": hours, "ids": list(sessions)})


async def _end(engine: AsyncEngine, sess: str) -> str | None:
    async with engine.connect() as conn:
        q = "SELECT end_reason FROM history.sessions WHERE id = :id"
        return (await conn.execute(text(q), {"id": sess})).scalar_one_or_none()


async def test_a_session_silent_past_the_timeout_is_ended_once_and_the_agents_own_end_wins(
    engine: AsyncEngine,
) -> None:
    await _call(engine, "conv-lost", "sess-lost", 3)
    await _call(engine, "conv-live", "sess-live", 2, at=c.utcnow())  # a turn just now: the call goes on
    await _call(engine, "conv-replayed", "sess-replayed", 2)  # old events, but they only just arrived
    await _call(engine, "conv-done", "sess-done", 2)
    await persist([ended("conv-done", "sess-done", 2)], SqlHistoryStore(engine))
    await _call(engine, "conv-erased", "sess-erased", 1)
    await _received(engine, 3, "sess-lost", "sess-live", "sess-done", "sess-erased")
    await erasure.erase(engine, "conv-erased")

    published: list[c.SessionEnded] = []

    async def publish(event: c.SessionEnded) -> None:
        published.append(event)

    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 1
    (end,) = published
    assert (end.session_id, end.conversation_id, end.producer, end.reason) == (
        "sess-lost", "conv-lost", "history", c.AGENT_LOST)  # fmt: skip
    assert [m.seq for m in end.messages] == [1, 2, 3] and end.turn_count == 3 and end.recording is None
    assert (end.started_at, end.ended_at) == (T0, T0 + timedelta(seconds=3))  # ended at its last turn
    assert c.decode(c.encode(end)) == end  # a valid event of the contract
    # Another replica finding it before the end is stored publishes the very same event (same id).
    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 1
    assert published[1].event_id == end.event_id

    await persist([end], SqlHistoryStore(engine))  # what history's consumer does with it
    assert await _end(engine, "sess-lost") == c.AGENT_LOST
    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 0
    # The agent's own end, replayed late from a spill file, replaces it; a lost-agent end never replaces one.
    await persist([ended("conv-lost", "sess-lost", 3)], SqlHistoryStore(engine))
    assert await _end(engine, "sess-lost") == "participant_disconnected"
    await persist([end], SqlHistoryStore(engine))
    assert await _end(engine, "sess-lost") == "participant_disconnected"
    # Both in one batch, for a session still open: the agent's own end is the one stored.
    await _call(engine, "conv-both", "sess-both", 1)
    both = [ended("conv-both", "sess-both", 1), msgspec.structs.replace(end, session_id="sess-both")]
    await persist(both, SqlHistoryStore(engine))
    assert await _end(engine, "sess-both") == "participant_disconnected"


async def test_the_running_service_ends_a_lost_session_through_the_stream(
    engine: AsyncEngine, settings: Settings, nats_url: str
) -> None:
    await provisioned(nats_url)
    await _call(engine, "conv-lost", "sess-lost", 2)
    await _received(engine, 3, "sess-lost")
    async with AsyncTestClient(app=create_app(settings)):
        await eventually(lambda: _ended_as(engine, "sess-lost", c.AGENT_LOST), timeout=20, what="the lost end")
    (end,) = [e for e in await stream_events(nats_url) if isinstance(e, c.SessionEnded)]
    assert (end.producer, end.session_id, end.turn_count) == ("history", "sess-lost", 2)


async def _ended_as(engine: AsyncEngine, session: str, reason: str) -> bool:
    return await _end(engine, session) == reason


def _resuming(conv: str, sess: str, resumed_from: str) -> c.SessionStarted:
    """The session of a second attempt at a LiveKit job whose first attempt's worker was lost."""
    return msgspec.structs.replace(started(conv, sess, at=c.utcnow()), resumed_from=resumed_from)


async def test_a_session_another_attempt_at_its_job_resumed_is_ended_without_waiting_for_the_timeout(
    engine: AsyncEngine,
) -> None:
    await _call(engine, "conv-r", "AJ_r-11111111", 2, at=c.utcnow())  # its last turn just now: not silent
    await _call(engine, "conv-other", "AJ_o-33333333", 1, at=c.utcnow())
    published: list[c.SessionEnded] = []

    async def publish(event: c.SessionEnded) -> None:
        published.append(event)

    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 0
    # A session of another conversation cannot end this one by naming it.
    await persist([_resuming("conv-other", "AJ_x-44444444", "AJ_r-11111111")], SqlHistoryStore(engine))
    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 0
    await persist([_resuming("conv-r", "AJ_r-22222222", "AJ_r-11111111")], SqlHistoryStore(engine))
    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 1
    (end,) = published
    assert (end.session_id, end.reason, end.turn_count) == ("AJ_r-11111111", c.AGENT_LOST, 2)
    await persist([end], SqlHistoryStore(engine))
    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 0  # the resuming one goes on
    # The resuming session's first turn may arrive before its start: the start still records what it resumed.
    await persist([turn("conv-r", "AJ_r-33333333", 1, at=c.utcnow())], SqlHistoryStore(engine))
    await persist([_resuming("conv-r", "AJ_r-33333333", "AJ_r-22222222")], SqlHistoryStore(engine))
    assert await end_lost_sessions(engine, publish, timeout=timedelta(hours=2)) == 1
    assert published[-1].session_id == "AJ_r-22222222"


async def test_the_running_service_ends_a_resumed_session_as_soon_as_the_resuming_one_is_stored(
    engine: AsyncEngine, settings: Settings, nats_url: str
) -> None:
    """The lost-session pass runs every 5 minutes; storing a resuming session brings it forward."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    first, second = "AJ_r-11111111", "AJ_r-22222222"
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            for event in (started("conv-r", first, at=c.utcnow()), turn("conv-r", first, 1, at=c.utcnow())):
                await js.publish(c.subject_for(event), c.encode(event))

            async def first_turn_stored() -> bool:
                r = await client.get(f"/v1/sessions/{first}", headers=AUTH)
                return bool(r.json().get("session", {}).get("stored_turns") == 1)

            await eventually(first_turn_stored, timeout=20, what="the first attempt's turn stored")
            resuming = _resuming("conv-r", second, first)
            await js.publish(c.subject_for(resuming), c.encode(resuming))
            await eventually(lambda: _ended_as(engine, first, c.AGENT_LOST), timeout=20, what="the resumed end")
            shown = (await client.get(f"/v1/sessions/{second}", headers=AUTH)).json()["session"]
            assert (shown["resumed_from"], shown["status"]) == (first, "active")
    finally:
        await nc.close()
