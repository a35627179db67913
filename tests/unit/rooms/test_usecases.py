"""Rooms' use cases through in-memory fakes of their ports: no server, milliseconds each."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest

import parley_contracts as c
from parley_rooms import usecases
from parley_rooms.ports import (
    ConversationWasErased,
    KeyReused,
    LimitReached,
    LiveKitUnavailable,
    RoomEnded,
    RoomExists,
    RoomNotFound,
    RoomView,
    TokenGrant,
    TokenRefused,
)
from parley_rooms.schemas import CreateRoom

from .fakes import FakeLiveKit, MemoryRoomStore, MemoryTx

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
CONFIG = usecases.RoomsConfig(agent_name="parley-agent", max_token_ttl_seconds=7200, clock=lambda: NOW)


class World:
    def __init__(self) -> None:
        self.store = MemoryRoomStore()
        self.livekit = FakeLiveKit()
        self.events: list[c.Event] = []

    async def create(self, request: CreateRoom, key: str | None = None) -> RoomView:
        return await usecases.create_room(
            request, idempotency_key=key, store=self.store, livekit=self.livekit, publish=self.events.append,
            config=CONFIG,
        )  # fmt: skip


async def test_a_room_carries_what_the_agent_reads_and_is_announced_once() -> None:
    w = World()
    request = CreateRoom(name="call-1", user_id="ada", language="en", greeting="Greet Ada by name", memory="user")
    room = await w.create(request)
    assert room.status == "waiting" and room.user_id == "ada" and room.sid == "RM_call-1"
    assert w.livekit.rooms["call-1"] == {
        "conversation_id": room.conversation_id, "user_id": "ada", "language": "en",
        "greeting": "Greet Ada by name", "memory": "user",
    }  # fmt: skip
    assert [type(e) for e in w.events] == [c.RoomCreated]
    assert w.events[0].producer == "rooms" and w.events[0].occurred_at == NOW


async def test_the_same_idempotency_key_answers_the_same_room_and_creates_nothing_more() -> None:
    w = World()
    first = await w.create(CreateRoom(user_id="ada"), key="k1")
    again = await w.create(CreateRoom(user_id="ada"), key="k1")
    assert again.name == first.name and len(w.livekit.rooms) == 1 and len(w.events) == 1
    with pytest.raises(KeyReused):
        await w.create(CreateRoom(user_id="bob"), key="k1")


async def test_a_taken_name_or_an_erased_conversation_is_refused_before_livekit_is_asked() -> None:
    w = World()
    await w.create(CreateRoom(name="call-1"))
    with pytest.raises(RoomExists):
        await w.create(CreateRoom(name="call-1"))
    async with w.store.write() as tx:
        await tx.erase_conversations(["conv-gone"], NOW)
    with pytest.raises(ConversationWasErased):
        await w.create(CreateRoom(name="call-2", conversation_id="conv-gone"))
    assert list(w.livekit.rooms) == ["call-1"]


async def test_livekit_down_leaves_nothing_behind() -> None:
    w = World()
    w.livekit.down = True
    with pytest.raises(LiveKitUnavailable):
        await w.create(CreateRoom(name="call-1"))
    assert w.store.state.rooms == {} and w.events == []


async def test_a_store_failure_undoes_the_livekit_room() -> None:
    w = World()

    async def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("postgres went away")

    class Broken(MemoryRoomStore):
        @asynccontextmanager
        async def write(self) -> AsyncIterator[MemoryTx]:
            async with super().write() as tx:
                tx.insert_room = broken  # type: ignore[method-assign]
                yield tx

    w.store = Broken()
    with pytest.raises(ConnectionError):
        await w.create(CreateRoom(name="call-1"))
    assert w.livekit.deleted == ["call-1"] and w.livekit.rooms == {} and w.events == []


async def test_a_store_that_is_down_creates_nothing_in_livekit() -> None:
    w = World()

    class Down(MemoryRoomStore):
        def write(self):  # type: ignore[no-untyped-def]
            raise ConnectionError("postgres is down")

    w.store = Down()
    with pytest.raises(ConnectionError):
        await w.create(CreateRoom(name="call-1"))
    assert w.livekit.rooms == {} and w.livekit.deleted == [] and w.events == []


async def test_closing_a_room_ends_it_and_announces_it_once() -> None:
    w = World()
    await w.create(CreateRoom(name="call-1"))
    for _ in range(2):
        await usecases.close_room("call-1", store=w.store, livekit=w.livekit, publish=w.events.append, config=CONFIG)
    assert [type(e) for e in w.events] == [c.RoomCreated, c.RoomFinished]
    room, _ = await usecases.get_room("call-1", store=w.store)
    assert room.status == "ended"
    with pytest.raises(RoomNotFound):
        await usecases.close_room("nope", store=w.store, livekit=w.livekit, publish=w.events.append, config=CONFIG)


async def test_a_token_carries_the_participants_metadata_and_attributes() -> None:
    w = World()
    await w.create(CreateRoom(name="call-1"))
    grant = TokenGrant(room="call-1", identity="ada", metadata='{"crm_id": "C-7"}', attributes={"tier": "gold"})
    token, _ = await usecases.mint_token(grant, store=w.store, livekit=w.livekit, config=CONFIG)
    assert token == "token-for-ada" and w.livekit.grants == [grant]


@pytest.mark.parametrize(
    ("grant", "why"),
    [
        (TokenGrant(room="call-1", identity="agent-AJ_1"), "agent-"),
        (TokenGrant(room="call-1", identity="Agent-x"), "agent-"),
        (TokenGrant(room="call-1", identity="ada", attributes={"lk.agent.state": "speaking"}), "lk."),
        (TokenGrant(room="call-1", identity="ada", ttl_seconds=7201), "at most 7200"),
    ],
)
async def test_a_token_that_could_pose_as_the_agent_or_outlive_the_cap_is_refused(grant: TokenGrant, why: str) -> None:
    w = World()
    await w.create(CreateRoom(name="call-1"))
    with pytest.raises(TokenRefused, match=why):
        await usecases.mint_token(grant, store=w.store, livekit=w.livekit, config=CONFIG)
    assert w.livekit.grants == []


async def test_no_token_for_a_room_that_ended_or_does_not_exist() -> None:
    w = World()
    await w.create(CreateRoom(name="call-1"))
    await usecases.close_room("call-1", store=w.store, livekit=w.livekit, publish=w.events.append, config=CONFIG)
    for room, refusal in (("call-1", RoomEnded), ("nope", RoomNotFound)):
        grant = TokenGrant(room=room, identity="a")
        with pytest.raises(refusal):
            await usecases.mint_token(grant, store=w.store, livekit=w.livekit, config=CONFIG)


async def test_a_room_over_a_limit_is_refused_and_nothing_is_made_in_livekit() -> None:
    w = World()
    limited = dataclasses.replace(CONFIG, max_active_rooms=3, max_active_rooms_per_user=2)

    async def create(user: str) -> RoomView:
        return await usecases.create_room(CreateRoom(user_id=user), idempotency_key=None, store=w.store,
                                          livekit=w.livekit, publish=w.events.append, config=limited)  # fmt: skip

    await create("ada")
    await create("ada")
    with pytest.raises(LimitReached, match="user ada has 2 active rooms"):
        await create("ada")
    await create("bob")
    with pytest.raises(LimitReached, match="this deployment has its 3 active rooms") as caught:
        await create("cyd")
    assert caught.value.retry_after >= 1 and len(w.livekit.rooms) == 3 and w.livekit.deleted == []


async def test_an_abandoned_room_frees_its_place_once_the_empty_timeout_passed() -> None:
    w = World()
    now = [NOW]
    limited = dataclasses.replace(CONFIG, max_active_rooms=1, empty_timeout=timedelta(minutes=5), clock=lambda: now[0])

    async def create() -> RoomView:
        return await usecases.create_room(CreateRoom(user_id="ada"), idempotency_key=None, store=w.store,
                                          livekit=w.livekit, publish=w.events.append, config=limited)  # fmt: skip

    await create()
    with pytest.raises(LimitReached):
        await create()
    now[0] = NOW + timedelta(minutes=6)  # nobody joined: LiveKit closed it, whether or not its webhook came
    await create()
