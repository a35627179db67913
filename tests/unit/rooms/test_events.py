"""Rooms' webhook and session-event use cases through in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import parley_contracts as c
from parley_rooms import usecases
from parley_rooms.events import Webhook, apply_session_events, apply_webhook
from parley_rooms.schemas import CreateRoom

from .fakes import FakeLiveKit, MemoryRoomStore

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
CONFIG = usecases.RoomsConfig(agent_name="parley-agent", clock=lambda: T0)


async def _room(store: MemoryRoomStore, name: str = "call-1", conversation: str = "conv-1") -> None:
    request = CreateRoom(name=name, conversation_id=conversation, user_id="ada")
    await usecases.create_room(
        request, idempotency_key=None, store=store, livekit=FakeLiveKit(), publish=lambda e: None, config=CONFIG
    )


def _hook(event: str, hook_id: str, identity: str = "ada", kind: int = 0, at: int = 1_765_101_600) -> Webhook:
    return Webhook(id=hook_id, event=event, room_name="call-1", room_sid="RM_1", created_at=at, identity=identity,
                   kind=kind)  # fmt: skip


def _session(kind: type[c.SessionStarted] | type[c.SessionEnded], session: str, **extra: object) -> c.AnyEvent:
    common = {"event_id": uuid4(), "occurred_at": T0, "conversation_id": "conv-1", "producer": "agent",
              "session_id": session}  # fmt: skip
    common.update({k: v for k, v in extra.items() if k in common})
    extra = {k: v for k, v in extra.items() if k not in common}
    if kind is c.SessionStarted:
        return c.SessionStarted(**common, room_name="call-1", agent_name="a", started_at=T0)  # type: ignore[arg-type]
    return c.SessionEnded(
        **common, started_at=T0, ended_at=T0 + timedelta(minutes=2), duration_seconds=120.0, turn_count=4,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_participant_webhooks_are_stored_and_published_under_rooms_own_types_once() -> None:
    store, out = MemoryRoomStore(), list[c.Event]()
    await _room(store)
    joined = _hook("participant_joined", "EV_1", kind=3)
    assert await apply_webhook(joined, store=store, publish=out.append)
    assert not await apply_webhook(joined, store=store, publish=out.append)  # LiveKit retried: a replay
    assert await apply_webhook(_hook("participant_left", "EV_2", kind=3, at=1_765_101_660), store=store,
                               publish=out.append)  # fmt: skip
    assert [type(e) for e in out] == [c.RoomParticipantJoined, c.RoomParticipantLeft]
    assert all(e.producer == "rooms" for e in out)
    assert out[0].event_id != out[1].event_id
    again: list[c.Event] = []
    store2 = MemoryRoomStore()
    await _room(store2)
    await apply_webhook(joined, store=store2, publish=again.append)
    assert again[0].event_id == out[0].event_id  # derived from the webhook's id: JetStream de-duplicates
    async with store.read() as tx:
        [p] = await tx.participants("call-1")
    assert (p.identity, p.kind, p.left_at is not None) == ("ada", "sip", True)


async def test_a_webhook_about_a_room_parley_does_not_own_changes_nothing() -> None:
    store, out = MemoryRoomStore(), list[c.Event]()
    assert not await apply_webhook(_hook("room_finished", "EV_9"), store=store, publish=out.append)
    assert out == [] and store.state.receipts == set()


async def test_room_finished_ends_the_room_once() -> None:
    store, out = MemoryRoomStore(), list[c.Event]()
    await _room(store)
    await apply_webhook(_hook("room_finished", "EV_1"), store=store, publish=out.append)
    await apply_webhook(_hook("room_finished", "EV_2"), store=store, publish=out.append)
    assert [type(e) for e in out] == [c.RoomFinished]
    async with store.read() as tx:
        room = await tx.get_room("call-1")
    assert room is not None and room.status == "ended"


async def test_session_events_in_any_order_and_twice_give_one_status() -> None:
    started, ended = _session(c.SessionStarted, "s1"), _session(c.SessionEnded, "s1", reason="done")
    states = []
    for batches in ([[started], [ended]], [[ended], [started]], [[started, ended, ended, started]]):
        store = MemoryRoomStore()
        await _room(store)
        for batch in batches:
            await apply_session_events(batch, store=store)
        async with store.read() as tx:
            room = await tx.get_room("call-1")
        assert room is not None
        states.append((room.status, room.agent_session_id, room.session_end_reason))
    assert states == [("ended", "s1", "done")] * 3


async def test_the_agents_own_end_replaces_historys_agent_lost_and_never_the_reverse() -> None:
    store = MemoryRoomStore()
    await _room(store)
    lost = _session(c.SessionEnded, "s1", reason=c.AGENT_LOST, producer="history")
    own = _session(c.SessionEnded, "s1", reason="participant_disconnected")
    for batch in ([_session(c.SessionStarted, "s1")], [lost], [own], [lost]):
        await apply_session_events(batch, store=store)
    async with store.read() as tx:
        room = await tx.get_room("call-1")
    assert room is not None and room.session_end_reason == "participant_disconnected"


async def test_an_erasure_scrubs_the_rooms_and_a_live_rooms_metadata_in_livekit() -> None:
    store, livekit = MemoryRoomStore(), FakeLiveKit()
    await _room(store)
    livekit.rooms["call-1"] = {"conversation_id": "conv-1", "user_id": "ada", "instructions": "..."}
    await apply_webhook(_hook("participant_joined", "EV_1"), store=store, publish=lambda e: None)
    erased = c.ConversationErased(event_id=uuid4(), occurred_at=T0, conversation_id="conv-1", producer="history")
    for _ in range(2):
        await apply_session_events([erased], store=store, replace_metadata=livekit.replace_metadata)
    async with store.read() as tx:
        room = await tx.get_room("call-1")
        assert await tx.participants("call-1") == []
        assert await tx.is_erased("conv-1")
    assert room is not None and (room.user_id, room.metadata, room.erased_at is not None) == (None, {}, True)
    assert livekit.rooms["call-1"] == {"conversation_id": "conv-1"}
    out: list[c.Event] = []
    await apply_webhook(_hook("participant_joined", "EV_2", identity="bob"), store=store, publish=out.append)
    assert out == []  # an erased conversation's identities are neither stored nor published again
