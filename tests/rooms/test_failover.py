"""Agent failover: a caller left alone by a lost agent gets the agent dispatched again, once per departure."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from livekit import api
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_devstack.livekit_standin import LiveKitStandIn
from parley_rooms import store
from parley_rooms.app import create_app
from parley_rooms.db import make_engine
from parley_rooms.events import apply_session_events
from parley_rooms.failover import redispatch_lost_agents, redispatch_room
from parley_rooms.ports import LiveKitUnavailable, NewRoom
from parley_rooms.settings import Settings
from parley_rooms.store import SqlRoomStore
from tests.support import eventually

from .conftest import AUTH, LK_KEY, LK_SECRET
from .helpers import signed_webhook

NOW = datetime.now(UTC).replace(microsecond=0)
ROOM, SESSION, META = "room-f", "AJ_1-aaaaaaaa", {"conversation_id": "conv", "user_id": "ada"}
GRACE = timedelta(seconds=15)


def _started(session: str = SESSION) -> c.SessionStarted:
    return c.SessionStarted(event_id=uuid4(), occurred_at=NOW - timedelta(minutes=5), conversation_id="conv",
                            session_id=session, producer="agent", room_name=ROOM, agent_name="parley-agent",
                            started_at=NOW - timedelta(minutes=5))  # fmt: skip


def _ended(reason: str) -> c.SessionEnded:
    at = NOW - timedelta(seconds=21)
    return c.SessionEnded(event_id=uuid4(), occurred_at=at, conversation_id="conv", session_id=SESSION,
                          producer="agent", reason=reason, started_at=NOW - timedelta(minutes=5), ended_at=at,
                          duration_seconds=279, turn_count=4)  # fmt: skip


@pytest.fixture
async def engine(rooms_db: str) -> AsyncIterator[AsyncEngine]:
    """A room with its caller in it, whose agent started a session and left 20 s ago without ending it."""
    eng = make_engine(rooms_db, pool_size=4)
    async with eng.begin() as conn:
        await store.insert_room(conn, NewRoom(ROOM, "conv", "ada", "parley-agent", META, "RM_f", NOW))
        await store.participant_joined(conn, ROOM, "caller", "standard", NOW - timedelta(minutes=5))
        await store.participant_joined(conn, ROOM, "agent-AJ_1", "agent", NOW - timedelta(minutes=5))
        await store.participant_left(conn, ROOM, "agent-AJ_1", "agent", NOW - timedelta(seconds=20))
    await apply_session_events([_started()], store=SqlRoomStore(eng))
    yield eng
    await eng.dispose()


class Dispatches(list[tuple[str, dict[str, object]]]):
    async def __call__(self, room: str, metadata: dict[str, object]) -> None:
        self.append((room, metadata))


async def _pass(engine: AsyncEngine, dispatch: Dispatches, *, at: datetime = NOW, most: int = 3) -> int:
    return await redispatch_lost_agents(engine, dispatch, grace=GRACE, max_per_room=most, now=at)


async def test_a_caller_left_alone_by_a_lost_agent_gets_the_agent_again_once_per_departure(
    engine: AsyncEngine,
) -> None:
    dispatch = Dispatches()
    assert await _pass(engine, dispatch, at=NOW - timedelta(seconds=10)) == 0  # within the grace
    assert await _pass(engine, dispatch, most=2) == 1
    assert dispatch == [(ROOM, META | {"resumed_from": SESSION})]  # the new agent names the lost session
    assert await _pass(engine, dispatch, most=2) == 0  # the same departure: dispatched already
    async with engine.begin() as conn:  # the new agent came, and was lost too
        await store.participant_joined(conn, ROOM, "agent-AJ_2", "agent", NOW + timedelta(seconds=5))
        assert await _pass(engine, dispatch, at=NOW + timedelta(minutes=1), most=2) == 0  # it is there
        await store.participant_left(conn, ROOM, "agent-AJ_2", "agent", NOW + timedelta(seconds=30))
    assert await _pass(engine, dispatch, at=NOW + timedelta(minutes=1), most=2) == 1
    async with engine.begin() as conn:
        await store.participant_joined(conn, ROOM, "agent-AJ_3", "agent", NOW + timedelta(minutes=2))
        await store.participant_left(conn, ROOM, "agent-AJ_3", "agent", NOW + timedelta(minutes=3))
    assert await _pass(engine, dispatch, at=NOW + timedelta(minutes=4), most=2) == 0  # at most twice per room
    assert len(dispatch) == 2


async def _finish(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await store.finish_room(conn, ROOM, NOW, "room_finished")


async def _erase(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE rooms.rooms SET erased_at = now() WHERE name = :n"), {"n": ROOM})


async def _caller_left(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await store.participant_left(conn, ROOM, "caller", "standard", NOW - timedelta(seconds=19))


async def _only_an_egress_stays(engine: AsyncEngine) -> None:  # a recording of the room, no caller
    await _caller_left(engine)
    async with engine.begin() as conn:
        await store.participant_joined(conn, ROOM, "EG_recorder", "egress", NOW - timedelta(minutes=4))


async def _another_agent(engine: AsyncEngine) -> None:  # LiveKit resumed the job on another worker itself
    async with engine.begin() as conn:
        await store.participant_joined(conn, ROOM, "agent-AJ_1-resumed", "agent", NOW - timedelta(seconds=10))


async def _ended_by_its_agent(engine: AsyncEngine) -> None:  # it left on purpose, having ended the session
    await apply_session_events([_ended("error")], store=SqlRoomStore(engine))


# What makes a room not want another agent, each applied after the agent left.
UNWANTED = [_finish, _erase, _caller_left, _only_an_egress_stays, _another_agent, _ended_by_its_agent]


@pytest.mark.parametrize("change", UNWANTED, ids=lambda f: f.__name__)
async def test_no_agent_is_dispatched_again_where_it_is_not_wanted(
    engine: AsyncEngine, change: Callable[[AsyncEngine], object]
) -> None:
    dispatch = Dispatches()
    await change(engine)  # type: ignore[misc]
    assert await _pass(engine, dispatch) == 0 and dispatch == []


@pytest.mark.parametrize("change", UNWANTED, ids=lambda f: f.__name__)
async def test_the_claim_checks_again_what_changed_after_the_pass_read_the_room(
    engine: AsyncEngine, change: Callable[[AsyncEngine], object]
) -> None:
    """The pass reads the rooms, then claims each under its lock: a webhook may land in between."""
    dispatch = Dispatches()
    await change(engine)  # type: ignore[misc]
    claimed = await redispatch_room(engine, dispatch, ROOM, grace=GRACE, max_per_room=3, now=NOW)
    assert not claimed and dispatch == []


async def test_the_claim_alone_keeps_the_grace_the_bound_and_one_dispatch_per_departure(engine: AsyncEngine) -> None:
    dispatch = Dispatches()

    async def claim(*, at: datetime = NOW, most: int = 3) -> bool:
        return await redispatch_room(engine, dispatch, ROOM, grace=GRACE, max_per_room=most, now=at)

    assert not await claim(at=NOW - timedelta(seconds=10))  # the agent left 10 s before: within the grace
    assert not await claim(most=0)
    assert await claim() and dispatch == [(ROOM, META | {"resumed_from": SESSION})]
    assert not await claim(at=NOW + timedelta(minutes=1))  # the same departure


async def test_a_session_history_ended_for_its_lost_agent_still_gets_the_agent_again(engine: AsyncEngine) -> None:
    await apply_session_events([_ended(c.AGENT_LOST)], store=SqlRoomStore(engine))
    dispatch = Dispatches()
    assert await _pass(engine, dispatch) == 1


async def test_a_dispatch_livekit_does_not_take_is_tried_again_at_the_next_pass(engine: AsyncEngine) -> None:
    async def down(room: str, metadata: dict[str, object]) -> None:
        raise LiveKitUnavailable("LiveKit unreachable: ClientConnectorError")

    assert await redispatch_lost_agents(engine, down, grace=GRACE, max_per_room=3, now=NOW) == 0
    dispatch = Dispatches()
    assert await _pass(engine, dispatch) == 1  # not counted as done: the claim was rolled back


async def test_two_replicas_passing_at_once_dispatch_the_agent_once(engine: AsyncEngine, rooms_db: str) -> None:
    other = make_engine(rooms_db, pool_size=2)
    dispatch = Dispatches()

    async def slow(room: str, metadata: dict[str, object]) -> None:
        await asyncio.sleep(0.3)  # LiveKit answering slowly, the room's row locked meanwhile
        await dispatch(room, metadata)

    try:
        results = await asyncio.gather(
            redispatch_lost_agents(engine, slow, grace=GRACE, max_per_room=3, now=NOW),
            redispatch_lost_agents(other, slow, grace=GRACE, max_per_room=3, now=NOW),
        )
    finally:
        await other.dispose()
    assert sorted(results) == [0, 1] and len(dispatch) == 1


def _webhook(event: str, identity: str, kind: int) -> api.WebhookEvent:
    return api.WebhookEvent(event=event, id=f"EV_{uuid4().hex}", created_at=int(time.time()),
                            room=api.Room(name=ROOM, sid="RM_f"),
                            participant=api.ParticipantInfo(identity=identity, kind=kind))  # type: ignore[arg-type]  # fmt: skip


async def test_the_running_service_dispatches_the_agent_again_through_livekit(
    settings: Settings, livekit: LiveKitStandIn
) -> None:
    """LiveKit's webhooks through the real endpoint, the dispatch through livekit-api to LiveKit's Twirp API."""
    settings = msgspec.structs.replace(settings, agent_failover_seconds=1)
    async with AsyncTestClient(app=create_app(settings)) as client:
        r = await client.post("/v1/rooms", json={"name": ROOM, "user_id": "ada"}, headers=AUTH)
        assert r.status_code == 201, r.text
        engine = make_engine(settings.database_url, pool_size=1)  # the app's runs on the client's own loop
        await apply_session_events(
            [msgspec.structs.replace(_started(), conversation_id=r.json()["conversation_id"])],
            store=SqlRoomStore(engine),
        )
        await engine.dispose()
        for event in (_webhook("participant_joined", "caller", 0), _webhook("participant_joined", "agent-AJ_1", 4),
                      _webhook("participant_left", "agent-AJ_1", 4)):  # fmt: skip
            body, auth = signed_webhook(event, LK_KEY, LK_SECRET)
            hook = await client.post("/v1/livekit/webhook", content=body.encode(), headers={"Authorization": auth})
            assert hook.status_code == 200, hook.text
        await eventually(lambda: livekit.dispatched, what="the agent dispatched again")
        shown = (await client.get(f"/v1/rooms/{ROOM}", headers=AUTH)).json()
        assert (shown["status"], shown["agent_redispatches"]) == ("active", 1)
    (request,) = livekit.dispatched
    assert (request.room, request.agent_name) == (ROOM, settings.agent_name)
    assert json.loads(request.metadata)["resumed_from"] == SESSION
