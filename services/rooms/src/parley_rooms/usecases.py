"""The rooms service's use cases: creating and closing a call's room, and minting join tokens.

Transport-free: each takes its store, its LiveKit gateway and its publisher (`ports`), raises the domain
errors of `ports` for what it refuses, and is run by the API controller, which only decodes and answers.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

import parley_contracts as c
from parley_rooms.ports import (
    ConversationWasErased,
    KeyInFlight,
    KeyReused,
    LimitReached,
    LiveKit,
    NewRoom,
    ParticipantView,
    Publish,
    RoomEnded,
    RoomExists,
    RoomNotFound,
    RoomStore,
    RoomsTx,
    RoomView,
    TokenGrant,
    TokenRefused,
)
from parley_rooms.schemas import CreateRoom

PRODUCER = "rooms"
# What the agent reads from the room's metadata (parley_agent.metadata), besides the conversation id.
AGENT_METADATA_FIELDS = (
    "user_id", "instructions", "language", "greeting", "memory", "agents", "analysis_schema", "redact",
)  # fmt: skip


# LiveKit names an agent's participant `agent-<job id>`, and keeps attributes under `lk.` for itself (the agent's
# state is `lk.agent.state`): a join token minted here may take neither, so no caller can pose as the agent.
AGENT_IDENTITY_PREFIX = "agent-"
RESERVED_ATTRIBUTE_PREFIX = "lk."


@dataclass(frozen=True)
class RoomsConfig:
    agent_name: str
    token_ttl_seconds: int = 3600
    max_token_ttl_seconds: int = 86_400
    clock: Callable[[], datetime] = c.utcnow
    max_active_rooms: int = 0  # 0: no limit
    max_active_rooms_per_user: int = 0
    empty_timeout: timedelta = timedelta(seconds=300)  # LiveKit's: a room nobody joined is closed after it

    @property
    def limited(self) -> bool:
        return bool(self.max_active_rooms or self.max_active_rooms_per_user)


async def check_limits(tx: RoomsTx, user_id: str | None, config: RoomsConfig, now: datetime) -> None:
    """Refuse a room over either limit (`LimitReached`). Holds room creation until `tx` ends."""
    total, mine = await tx.active_rooms(user_id, now, config.empty_timeout)
    retry = max(1, int(config.empty_timeout.total_seconds() // 10))
    if config.max_active_rooms and total >= config.max_active_rooms:
        raise LimitReached(f"this deployment has its {config.max_active_rooms} active rooms", retry)
    if config.max_active_rooms_per_user and user_id is not None and mine >= config.max_active_rooms_per_user:
        raise LimitReached(f"user {user_id} has {mine} active rooms, the most one user may have", retry)


def request_hash(request: CreateRoom) -> str:
    return hashlib.sha256(msgspec.json.encode(request)).hexdigest()


def room_metadata(request: CreateRoom, conversation_id: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"conversation_id": conversation_id}
    for name in AGENT_METADATA_FIELDS:
        value = getattr(request, name)
        if value is not None:
            metadata[name] = msgspec.to_builtins(value)
    return metadata


async def create_room(
    request: CreateRoom,
    *,
    idempotency_key: str | None,
    store: RoomStore,
    livekit: LiveKit,
    publish: Publish,
    config: RoomsConfig,
) -> RoomView:
    """Create the LiveKit room with the agent dispatched, store it, announce it (`room_created.v1`).

    The same Idempotency-Key with the same body answers the room it created, and creates nothing; with another
    body it is refused. Nothing is left half done: a failure to store undoes the LiveKit room."""
    body_hash = request_hash(request)
    if idempotency_key:
        async with store.read() as tx:
            seen = await tx.idempotent_room(idempotency_key)
            if seen is not None:
                if seen[0] != body_hash:
                    raise KeyReused("Idempotency-Key reused with another body")
                room = await tx.get_room(seen[1])
                if room is not None:
                    return room
    name = request.name or f"call-{uuid.uuid4().hex[:12]}"
    conversation_id = request.conversation_id or str(uuid.uuid4())
    metadata = room_metadata(request, conversation_id)
    async with store.read() as tx:
        if await tx.room_exists(name):
            raise RoomExists(f"room {name} already exists")
        if await tx.is_erased(conversation_id):
            raise _erased(conversation_id)
    created = None
    try:
        async with store.write() as tx:
            if config.limited:  # counted and stored under one lock: parallel requests cannot overshoot
                await check_limits(tx, request.user_id, config, config.clock())
            created = await livekit.create_room(name, metadata)
            now = config.clock()
            new = NewRoom(name, conversation_id, request.user_id, config.agent_name, metadata, created.sid, now)
            if await tx.hold_conversation(conversation_id):  # erased meanwhile
                raise _erased(conversation_id)
            await tx.insert_room(new, idempotency=(idempotency_key, body_hash) if idempotency_key else None)
    except (RoomExists, KeyInFlight):
        # The LiveKit room is the winner's when the name is (LiveKit hands both the same room); a name generated
        # here is this request's alone, and left behind it would wait out its empty timeout.
        if created is not None and request.name is None:
            await livekit.delete_room(name)
        raise
    except BaseException:
        if created is not None:  # refused before it (a limit): nothing was created in LiveKit
            await livekit.delete_room(name)
        raise
    publish(
        c.RoomCreated(
            event_id=c.new_event_id(),
            occurred_at=now,
            conversation_id=conversation_id,
            producer=PRODUCER,
            room_name=name,
            room_sid=created.sid,
            at=now,
        )
    )
    async with store.read() as tx:
        room = await tx.get_room(name)
    assert room is not None
    return room


def _erased(conversation_id: str) -> ConversationWasErased:
    return ConversationWasErased(
        f"conversation {conversation_id} was erased; start the call with a new conversation id"
    )


async def get_room(name: str, *, store: RoomStore) -> tuple[RoomView, list[ParticipantView]]:
    async with store.read() as tx:
        room = await tx.get_room(name)
        if room is None:
            raise RoomNotFound(f"room {name} not found")
        return room, await tx.participants(name)


async def close_room(name: str, *, store: RoomStore, livekit: LiveKit, publish: Publish, config: RoomsConfig) -> None:
    """Close the room in LiveKit and mark it ended; `room_finished.v1` the first time only."""
    async with store.read() as tx:
        room = await tx.get_room(name)
    if room is None:
        raise RoomNotFound(f"room {name} not found")
    await livekit.delete_room(name)
    now = config.clock()
    async with store.write() as tx:
        changed = await tx.finish_room(name, now, "deleted")
    if changed:
        publish(
            c.RoomFinished(
                event_id=c.new_event_id(),
                occurred_at=now,
                conversation_id=room.conversation_id,
                producer=PRODUCER,
                session_id=room.agent_session_id,
                room_name=name,
                room_sid=room.sid,
                at=now,
            )
        )


def check_grant(grant: TokenGrant, config: RoomsConfig) -> None:
    """Refuse a token that could pose as the agent or outlive the configured life."""
    if grant.identity.lower().startswith(AGENT_IDENTITY_PREFIX):
        raise TokenRefused(f"identity may not start with {AGENT_IDENTITY_PREFIX!r}: that is how the agent joins")
    reserved = sorted(k for k in grant.attributes if k.lower().startswith(RESERVED_ATTRIBUTE_PREFIX))
    if reserved:
        raise TokenRefused(f"attributes under {RESERVED_ATTRIBUTE_PREFIX!r} are LiveKit's own: {', '.join(reserved)}")
    if grant.ttl_seconds > config.max_token_ttl_seconds:
        raise TokenRefused(f"ttl_seconds must be at most {config.max_token_ttl_seconds}")


async def mint_token(
    grant: TokenGrant, *, store: RoomStore, livekit: LiveKit, config: RoomsConfig
) -> tuple[str, datetime]:
    """A join token for one participant of a room that has not ended: (token, expiry)."""
    check_grant(grant, config)
    async with store.read() as tx:
        room = await tx.get_room(grant.room)
    if room is None:
        raise RoomNotFound(f"room {grant.room} not found")
    if room.status == "ended":
        raise RoomEnded(f"room {grant.room} has ended")
    token = livekit.join_token(grant)
    return token.token, token.expires_at
