"""The rooms API's request and response bodies, and the mapping from a room's row to its answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from parley_contracts import ID_PATTERN
from parley_contracts.agent import ATTRIBUTE_KEY_MAX, ATTRIBUTE_VALUE_MAX, ATTRIBUTES_MAX
from parley_contracts.privacy import EntityType
from parley_rooms.ports import ParticipantView, RoomView
from parley_runtime.web.http import NO_NUL

ID = ID_PATTERN


AgentName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class RedactRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Personal data types this call redacts besides the deployment's (`add`), or asks not to (`remove`: honoured
    only where the deployment lets rooms, AGENT_REDACT_ROOMS_MAY_REMOVE). Types as in docs/privacy.md."""

    add: Annotated[list[EntityType], msgspec.Meta(max_length=32)] = []
    remove: Annotated[list[EntityType], msgspec.Meta(max_length=32)] = []


class AgentDefinition(msgspec.Struct, forbid_unknown_fields=True):
    """An agent the call may be handed to."""

    instructions: Annotated[str, msgspec.Meta(min_length=1, max_length=8000, pattern=NO_NUL)]
    description: Annotated[str, msgspec.Meta(max_length=500, pattern=NO_NUL)] | None = None


class CreateRoom(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(pattern=ID)] | None = None
    conversation_id: Annotated[str, msgspec.Meta(pattern=ID)] | None = None
    # Stored in Postgres (the user id, and all three in the room's metadata), which cannot hold a NUL.
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=NO_NUL)] | None = None
    instructions: Annotated[str, msgspec.Meta(max_length=8000, pattern=NO_NUL)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16, pattern=NO_NUL)] | None = None
    # What the agent says first: an instruction for the LLM ("greet the caller by name and ask how you can
    # help"); without it the agent's configured greeting.
    greeting: Annotated[str, msgspec.Meta(max_length=2000, pattern=NO_NUL)] | None = None
    # The agent's memory of earlier calls: this conversation's recent turns (`conversation`, the default) or the
    # user's recent turns across all their conversations (`user`, which needs `user_id`).
    memory: Literal["conversation", "user"] | None = None
    # Other agents the call may be handed to (a receptionist to `booking`), by name: each with its instructions
    # and a description the first agent reads to decide when to hand over.
    agents: Annotated[dict[AgentName, AgentDefinition], msgspec.Meta(max_length=8)] | None = None
    # Which analysis insights makes of the call once it ended, by the name of one of the deployment's schemas
    # (INSIGHTS_SCHEMAS_FILE); without it, the deployment's default.
    analysis_schema: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")] | None = (
        None
    )
    # Personal data this call's agent masks besides the deployment's types (the agent reads it from the metadata).
    redact: RedactRequest | None = None


AttributeKey = Annotated[str, msgspec.Meta(min_length=1, max_length=ATTRIBUTE_KEY_MAX, pattern=NO_NUL)]
AttributeValue = Annotated[str, msgspec.Meta(max_length=ATTRIBUTE_VALUE_MAX, pattern=NO_NUL)]


TTL_DESCRIPTION = "seconds; default ROOMS_TOKEN_TTL_SECONDS, at most ROOMS_MAX_TOKEN_TTL_SECONDS"


class CreateToken(msgspec.Struct, forbid_unknown_fields=True):
    """A participant's join token: who it is, and what it carries into the room."""

    # The identity and name come back in LiveKit's webhooks and the agent's events, which Postgres stores.
    identity: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=NO_NUL)]
    name: Annotated[str, msgspec.Meta(max_length=256, pattern=NO_NUL)] | None = None
    ttl_seconds: Annotated[int, msgspec.Meta(ge=60, description=TTL_DESCRIPTION)] | None = None
    # The participant's LiveKit metadata and attributes: the agent reads both (a CRM id, the caller's number) and
    # they reach `participant_joined.v1`. Attributes under `lk.` are LiveKit's own and refused.
    metadata: Annotated[str, msgspec.Meta(max_length=4096, pattern=NO_NUL)] | None = None
    attributes: Annotated[dict[AttributeKey, AttributeValue], msgspec.Meta(max_length=ATTRIBUTES_MAX)] | None = None


def token_request(max_ttl_seconds: int) -> type[CreateToken]:
    """`CreateToken` whose `ttl_seconds` states this deployment's cap (ROOMS_MAX_TOKEN_TTL_SECONDS), so the OpenAPI
    document says which lives are refused and validation refuses them."""
    ttl = Annotated[int, msgspec.Meta(ge=60, le=max_ttl_seconds, description=TTL_DESCRIPTION)] | None
    body = msgspec.defstruct(
        "CreateToken", [("ttl_seconds", ttl, None)], bases=(CreateToken,), forbid_unknown_fields=True
    )
    assert issubclass(body, CreateToken)
    body.__doc__ = CreateToken.__doc__
    return body


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


def room_out(row: RoomView, participants: list[ParticipantView] | None = None) -> Room:
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
