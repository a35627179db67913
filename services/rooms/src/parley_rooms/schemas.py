"""The rooms API's request and response bodies, and the mapping from a room's row to its answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from parley_runtime.http import NO_NUL

ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"


class CreateRoom(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(pattern=ID)] | None = None
    conversation_id: Annotated[str, msgspec.Meta(pattern=ID)] | None = None
    # Stored in Postgres (the user id, and all three in the room's metadata), which cannot hold a NUL.
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=NO_NUL)] | None = None
    instructions: Annotated[str, msgspec.Meta(max_length=8000, pattern=NO_NUL)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16, pattern=NO_NUL)] | None = None


class CreateToken(msgspec.Struct, forbid_unknown_fields=True):
    # The identity and name come back in LiveKit's webhooks and the agent's events, which Postgres stores.
    identity: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=NO_NUL)]
    name: Annotated[str, msgspec.Meta(max_length=256, pattern=NO_NUL)] | None = None
    ttl_seconds: (
        Annotated[
            int,
            msgspec.Meta(ge=60, description="default ROOMS_TOKEN_TTL_SECONDS; at most ROOMS_MAX_TOKEN_TTL_SECONDS"),
        ]
        | None
    ) = None
    metadata: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


class Participant(msgspec.Struct):
    identity: str
    kind: str
    joined_at: datetime | None
    left_at: datetime | None


class Room(msgspec.Struct):
    name: str
    sid: str | None
    status: str
    conversation_id: str
    user_id: str | None
    agent_name: str
    agent_session_id: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    metadata: dict[str, Any]
    # Set when its conversation was erased: user id, metadata and participants were removed.
    erased_at: datetime | None = None
    participants: list[Participant] | None = None
    # Why its agent session ended, as the agent said ("participant_disconnected", ...) or "agent_lost" when
    # the agent died mid-call and history ended the session for it.
    end_reason: str | None = None
    # How often the agent was dispatched again after an agent was lost mid-call (agent failover).
    agent_redispatches: int = 0


class RoomPage(msgspec.Struct):
    items: list[Room]
    next_cursor: str | None


class Token(msgspec.Struct):
    token: str
    url: str
    room: str
    identity: str
    expires_at: datetime


def room_out(row: Any, participants: list[Any] | None = None) -> Room:
    return Room(
        name=row.name,
        sid=row.sid,
        status=row.status,
        conversation_id=row.conversation_id,
        user_id=row.user_id,
        agent_name=row.agent_name,
        agent_session_id=row.agent_session_id,
        created_at=row.created_at,
        started_at=row.session_started_at,
        ended_at=row.session_ended_at or row.finished_at,
        duration_seconds=row.session_duration_seconds,
        metadata=row.metadata,
        erased_at=row.erased_at,
        end_reason=row.session_end_reason,
        agent_redispatches=row.agent_redispatches,
        participants=None
        if participants is None
        else [
            Participant(identity=p.identity, kind=p.kind, joined_at=p.joined_at, left_at=p.left_at)
            for p in participants
        ],
    )
