"""The catalogue: every released event type, and the union a consumer decodes into."""

from __future__ import annotations

from parley_contracts._base import Event
from parley_contracts.agent import (
    ParticipantJoined,
    ParticipantLeft,
    SessionEnded,
    SessionStarted,
    TurnCompleted,
)
from parley_contracts.erasure import ConversationErased
from parley_contracts.recordings import RecordingStored
from parley_contracts.rooms import RoomCreated, RoomFinished

AnyEvent = (
    SessionStarted
    | ParticipantJoined
    | ParticipantLeft
    | TurnCompleted
    | SessionEnded
    | RecordingStored
    | RoomCreated
    | RoomFinished
    | ConversationErased
)

EVENT_TYPES: tuple[type[Event], ...] = (
    SessionStarted,
    ParticipantJoined,
    ParticipantLeft,
    TurnCompleted,
    SessionEnded,
    RecordingStored,
    RoomCreated,
    RoomFinished,
    ConversationErased,
)

# Who publishes what: used for the AsyncAPI document and for least-privilege NATS permissions.
PRODUCERS: dict[type[Event], str] = {
    SessionStarted: "agent",
    ParticipantJoined: "agent",
    ParticipantLeft: "agent",
    TurnCompleted: "agent",
    SessionEnded: "agent",
    RecordingStored: "recordings",
    RoomCreated: "rooms",
    RoomFinished: "rooms",
    ConversationErased: "history",
}
