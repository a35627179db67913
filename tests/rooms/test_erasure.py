"""Erasure on request in rooms: a conversation's rooms lose their personal data, and its id is retired."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import nats
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from livekit import api
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_devstack.livekit_standin import LiveKitStandIn
from parley_rooms.db import make_engine
from parley_rooms.erasure import erase_conversations
from parley_rooms.events import apply_session_events
from parley_rooms.livekit import LiveKitGateway
from parley_rooms.ports import ScrubbedRoom
from parley_rooms.settings import Settings
from parley_rooms.store import SqlRoomStore
from tests.support import eventually

from .conftest import AUTH, LK_KEY, LK_SECRET
from .helpers import published, signed_webhook

BODY = {"conversation_id": "conv-e", "user_id": "ada", "instructions": "Ada's dentist is Dr Who", "language": "en"}
HEADERS = {"Content-Type": "application/webhook+json"}


def _erased(conversation_id: str = "conv-e") -> c.ConversationErased:
    return c.ConversationErased(
        event_id=uuid4(), occurred_at=datetime.now(UTC), conversation_id=conversation_id, producer="history"
    )


def _joined(room: str, identity: str, event_id: str) -> api.WebhookEvent:
    return api.WebhookEvent(
        event="participant_joined",
        id=event_id,
        created_at=1_795_000_000,
        room=api.Room(name=room, sid="RM_e"),
        participant=api.ParticipantInfo(identity=identity),
    )


async def _webhook(client: AsyncTestClient[Litestar], event: api.WebhookEvent) -> dict[str, bool]:
    body, auth = signed_webhook(event, LK_KEY, LK_SECRET)
    r = await client.post("/v1/livekit/webhook", content=body.encode(), headers=HEADERS | {"Authorization": auth})
    assert r.status_code == 200, r.text
    result: dict[str, bool] = r.json()
    return result


@pytest.fixture
async def engine(rooms_db: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(rooms_db, pool_size=3)
    yield eng
    await eng.dispose()


async def _room(client: AsyncTestClient[Litestar], name: str) -> dict[str, Any]:
    r = await client.get(f"/v1/rooms/{name}", headers=AUTH)
    assert r.status_code == 200, r.text
    room: dict[str, Any] = r.json()
    return room


async def test_erasure_scrubs_the_conversations_rooms_and_keeps_their_status(
    client: AsyncTestClient[Litestar],
    engine: AsyncEngine,
) -> None:
    for name, conversation in (("call-e1", "conv-e"), ("call-e2", "conv-e"), ("call-other", "conv-other")):
        r = await client.post("/v1/rooms", json={**BODY, "name": name, "conversation_id": conversation}, headers=AUTH)
        assert r.status_code == 201, r.text
        await _webhook(client, _joined(name, "ada-phone", f"EV_{name}"))
    await apply_session_events(
        [
            c.SessionStarted(
                event_id=uuid4(),
                occurred_at=datetime.now(UTC),
                conversation_id="conv-e",
                session_id="s-e1",
                producer="agent",
                room_name="call-e1",
                agent_name="parley-agent",
                started_at=datetime.now(UTC),
            )
        ],
        store=SqlRoomStore(engine),
    )
    assert (await _room(client, "call-e1"))["metadata"]["instructions"] == BODY["instructions"]

    await apply_session_events([_erased()], store=SqlRoomStore(engine))

    for name in ("call-e1", "call-e2"):
        room = await _room(client, name)
        assert room["user_id"] is None and room["metadata"] == {} and room["participants"] == []
        assert room["erased_at"] is not None
        assert room["conversation_id"] == "conv-e"  # what stays is operational
    assert (await _room(client, "call-e1"))["status"] == "active"
    other = await _room(client, "call-other")
    assert other["user_id"] == "ada" and other["erased_at"] is None
    assert [p["identity"] for p in other["participants"]] == ["ada-phone"]
    listed = (await client.get("/v1/rooms", params={"user_id": "ada"}, headers=AUTH)).json()["items"]
    assert [r["name"] for r in listed] == ["call-other"]

    first = (await _room(client, "call-e1"))["erased_at"]
    await apply_session_events(
        [_erased(), _erased()], store=SqlRoomStore(engine)
    )  # redelivered, duplicated: nothing changes
    assert (await _room(client, "call-e1"))["erased_at"] == first


async def test_a_late_participant_webhook_stores_and_publishes_nothing(
    client: AsyncTestClient[Litestar],
    engine: AsyncEngine,
    nats_url: str,
) -> None:
    assert (await client.post("/v1/rooms", json={**BODY, "name": "call-late"}, headers=AUTH)).status_code == 201
    await apply_session_events([_erased()], store=SqlRoomStore(engine))
    await _webhook(client, _joined("call-late", "ada-phone", "EV_late"))
    assert (await _room(client, "call-late"))["participants"] == []
    assert [type(e).__name__ for e in await published(nats_url)] == ["RoomCreated"]


async def test_a_room_cannot_be_created_for_an_erased_conversation(
    client: AsyncTestClient[Litestar],
    engine: AsyncEngine,
    livekit: LiveKitStandIn,
) -> None:
    await apply_session_events(
        [_erased("conv-gone")], store=SqlRoomStore(engine)
    )  # erased before any room: the id is retired all the same
    r = await client.post("/v1/rooms", json={**BODY, "name": "call-gone", "conversation_id": "conv-gone"}, headers=AUTH)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "erased" in r.json()["detail"]
    assert livekit.created == []  # refused before LiveKit was asked
    assert (await client.get("/v1/rooms/call-gone", headers=AUTH)).status_code == 404


class _ErasingElsewhere:
    """An erasure holding its locks, uncommitted, for `hold` seconds, on its own thread and event loop.

    The test client serves a request on the test's own loop and blocks it until the answer, so the
    erasure that the request must wait for has to commit from somewhere else.
    """

    def __init__(self, url: str, conversation_id: str, hold: float) -> None:
        self.url, self.conversation_id, self.hold = url, conversation_id, hold
        self.held = threading.Event()
        self.scrubbed: list[ScrubbedRoom] = []
        self._thread = threading.Thread(target=lambda: asyncio.run(self._erase()))

    async def _erase(self) -> None:
        engine = make_engine(self.url, pool_size=1)
        try:
            async with engine.begin() as conn:
                self.scrubbed = await erase_conversations(conn, [self.conversation_id], datetime.now(UTC))
                self.held.set()
                await asyncio.sleep(self.hold)
        finally:
            await engine.dispose()

    def __enter__(self) -> _ErasingElsewhere:
        self._thread.start()
        assert self.held.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(10)


async def test_a_room_created_while_its_conversation_is_erased_is_refused_and_undone_in_livekit(
    client: AsyncTestClient[Litestar],
    rooms_db: str,
    livekit: LiveKitStandIn,
) -> None:
    body = {**BODY, "name": "call-race", "conversation_id": "conv-race"}
    with _ErasingElsewhere(rooms_db, "conv-race", hold=1.0):
        started = time.monotonic()
        r = await client.post("/v1/rooms", json=body, headers=AUTH)
        waited = time.monotonic() - started
    assert r.status_code == 409, r.text
    assert waited > 0.5  # it passed the first check (the erasure was not visible yet) and waited for the lock
    assert [c.name for c in livekit.created] == ["call-race"]
    assert livekit.deleted == ["call-race"] and "call-race" not in livekit.rooms  # undone in LiveKit
    assert (await client.get("/v1/rooms/call-race", headers=AUTH)).status_code == 404


async def test_a_participant_webhook_racing_the_erasure_leaves_no_identity(
    client: AsyncTestClient[Litestar],
    rooms_db: str,
    nats_url: str,
) -> None:
    assert (await client.post("/v1/rooms", json={**BODY, "name": "call-racing"}, headers=AUTH)).status_code == 201
    with _ErasingElsewhere(rooms_db, "conv-e", hold=1.0) as erasing:
        started = time.monotonic()
        await _webhook(client, _joined("call-racing", "ada-phone", "EV_racing"))
        waited = time.monotonic() - started
    assert [room.name for room in erasing.scrubbed] == ["call-racing"]
    assert waited > 0.5  # it waited for the room's row
    assert (await _room(client, "call-racing"))["participants"] == []
    assert [type(e).__name__ for e in await published(nats_url)] == ["RoomCreated"]


async def test_the_rooms_consumer_erases_from_jetstream_and_scrubs_the_live_room_in_livekit(
    client: AsyncTestClient[Litestar],
    nats_url: str,
    livekit: LiveKitStandIn,
) -> None:
    assert (await client.post("/v1/rooms", json={**BODY, "name": "call-js"}, headers=AUTH)).status_code == 201
    assert (await client.post("/v1/rooms", json={**BODY, "name": "call-over"}, headers=AUTH)).status_code == 201
    assert (await client.delete("/v1/rooms/call-over", headers=AUTH)).status_code == 204  # closed in LiveKit
    assert "Dr Who" in livekit.rooms["call-js"].metadata
    nc = await nats.connect(nats_url)
    event = _erased()
    await nc.jetstream().publish(c.subject_for(event), c.encode(event), headers={"Nats-Msg-Id": str(event.event_id)})
    await nc.close()

    async def scrubbed() -> dict[str, Any] | None:
        room = await _room(client, "call-js")
        return room if room["erased_at"] is not None else None

    room = await eventually(scrubbed, what="the room scrubbed")
    assert room["user_id"] is None and room["metadata"] == {}
    # The call may still run: LiveKit's copy of the metadata keeps only what a re-dispatched agent needs.
    assert json.loads(livekit.rooms["call-js"].metadata) == {"conversation_id": "conv-e"}


async def test_livekit_down_does_not_hold_back_the_erasure(
    client: AsyncTestClient[Litestar],
    engine: AsyncEngine,
    livekit: LiveKitStandIn,
    settings: Settings,
) -> None:
    assert (await client.post("/v1/rooms", json={**BODY, "name": "call-lk"}, headers=AUTH)).status_code == 201
    livekit.mode = "error"
    gateway = LiveKitGateway(settings)
    try:
        await apply_session_events(
            [_erased()], store=SqlRoomStore(engine), replace_metadata=gateway.replace_metadata
        )  # logged, not raised
    finally:
        await gateway.aclose()
    room = await _room(client, "call-lk")
    assert room["erased_at"] is not None and room["metadata"] == {}
