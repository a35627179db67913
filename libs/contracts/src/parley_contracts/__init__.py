"""Parley's public event contract: msgspec structs, subjects, codec and stream specs.

Other teams depend on this package to subscribe to conversation events. See `docs/events/asyncapi.yaml`.
"""

from parley_contracts._base import (
    ID_PATTERN,
    ID_RE,
    Event,
    Id,
    RoomEvent,
    SessionEvent,
    derived_event_id,
    new_event_id,
    utcnow,
)
from parley_contracts.agent import (
    AGENT_LOST,
    SUMMARY_MAX_BYTES,
    AgentHandoff,
    Attributes,
    HandoffSummary,
    HistoryPreload,
    MessageSummary,
    ParticipantJoined,
    ParticipantLeft,
    ParticipantSummary,
    RecordingRef,
    SessionEnded,
    SessionStarted,
    TurnCompleted,
    TurnMetrics,
    Usage,
    newest_that_fit,
)
from parley_contracts.catalogue import EVENT_TYPES, PRODUCERS, AnyEvent, producers_of
from parley_contracts.codec import (
    ContractError,
    conversation_of,
    decode,
    decode_as,
    encode,
    subject_filter,
    subject_for,
)
from parley_contracts.erasure import ConversationErased
from parley_contracts.recordings import RecordingStored
from parley_contracts.rooms import RoomCreated, RoomFinished, RoomParticipantJoined, RoomParticipantLeft

__all__ = [
    "AGENT_LOST",
    "EVENT_TYPES",
    "ID_PATTERN",
    "ID_RE",
    "PRODUCERS",
    "SUMMARY_MAX_BYTES",
    "AgentHandoff",
    "AnyEvent",
    "Attributes",
    "ContractError",
    "ConversationErased",
    "Event",
    "HandoffSummary",
    "HistoryPreload",
    "Id",
    "MessageSummary",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantSummary",
    "RecordingRef",
    "RecordingStored",
    "RoomCreated",
    "RoomEvent",
    "RoomFinished",
    "RoomParticipantJoined",
    "RoomParticipantLeft",
    "SessionEnded",
    "SessionEvent",
    "SessionStarted",
    "TurnCompleted",
    "TurnMetrics",
    "Usage",
    "conversation_of",
    "decode",
    "decode_as",
    "derived_event_id",
    "encode",
    "new_event_id",
    "newest_that_fit",
    "producers_of",
    "subject_filter",
    "subject_for",
    "utcnow",
]
