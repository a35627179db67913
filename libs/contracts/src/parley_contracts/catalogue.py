"""The catalogue: every released event type, the union a consumer decodes into, and who publishes each."""

from __future__ import annotations

from parley_contracts._base import Event
from parley_contracts.agent import (
    AgentHandoff,
    ParticipantJoined,
    ParticipantLeft,
    SessionEnded,
    SessionStarted,
    TurnCompleted,
)
from parley_contracts.erasure import ConversationErased
from parley_contracts.insights import SessionAnalyzed
from parley_contracts.recordings import RecordingStored
from parley_contracts.rooms import RoomCreated, RoomFinished, RoomParticipantJoined, RoomParticipantLeft

AnyEvent = (
    SessionStarted
    | ParticipantJoined
    | ParticipantLeft
    | TurnCompleted
    | AgentHandoff
    | SessionEnded
    | RecordingStored
    | SessionAnalyzed
    | RoomCreated
    | RoomFinished
    | RoomParticipantJoined
    | RoomParticipantLeft
    | ConversationErased
)

EVENT_TYPES: tuple[type[Event], ...] = (
    SessionStarted,
    ParticipantJoined,
    ParticipantLeft,
    TurnCompleted,
    AgentHandoff,
    SessionEnded,
    RecordingStored,
    SessionAnalyzed,
    RoomCreated,
    RoomFinished,
    RoomParticipantJoined,
    RoomParticipantLeft,
    ConversationErased,
)

# Who publishes each type: the `producer` its events carry. One service per type, except where a second is
# deliberate, and its docstring says how to tell the two apart (history ends the session of a lost agent).
# The AsyncAPI document lists them; the NATS permissions and a test of real traffic hold producers to them.
PRODUCERS: dict[type[Event], tuple[str, ...]] = {
    SessionStarted: ("agent",),
    ParticipantJoined: ("agent",),
    ParticipantLeft: ("agent",),
    TurnCompleted: ("agent",),
    AgentHandoff: ("agent",),
    SessionEnded: ("agent", "history"),
    RecordingStored: ("recordings",),
    SessionAnalyzed: ("insights",),
    RoomCreated: ("rooms",),
    RoomFinished: ("rooms",),
    RoomParticipantJoined: ("rooms",),
    RoomParticipantLeft: ("rooms",),
    ConversationErased: ("history",),
}


def producers_of(event_type: type[Event]) -> tuple[str, ...]:
    return PRODUCERS[event_type]
