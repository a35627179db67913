"""Events published by the agent worker: one session's life, its participants and its turns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import msgspec

from parley_contracts._base import (
    Count,
    Id,
    NonNegativeFloat,
    NonNegativeInt,
    Role,
    Seq,
    SessionEvent,
    UtcDatetime,
)


class TurnMetrics(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Per-turn latencies in seconds, as the framework reports them on the chat message."""

    transcription_delay: NonNegativeFloat | None = None
    end_of_turn_delay: NonNegativeFloat | None = None
    llm_ttft: NonNegativeFloat | None = None
    tts_ttfb: NonNegativeFloat | None = None
    e2e_latency: NonNegativeFloat | None = None


class UsageItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What one provider's model was used for, in the units providers bill."""

    component: Literal["llm", "stt", "tts"]
    provider: str
    model: str
    input_tokens: NonNegativeInt = 0  # llm: prompt tokens, cached ones included
    cached_input_tokens: NonNegativeInt = 0  # llm: the part of input_tokens served from the provider's cache
    output_tokens: NonNegativeInt = 0  # llm
    characters: NonNegativeInt = 0  # tts
    audio_seconds: NonNegativeFloat = 0.0  # stt: audio recognized; tts: audio synthesized


MAX_USAGE_ITEMS = 32


class Usage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Provider usage attributable to a turn or a whole session: the totals, and `items` by provider and model
    (what a price table prices)."""

    prompt_tokens: NonNegativeInt = 0
    completion_tokens: NonNegativeInt = 0
    tts_characters: NonNegativeInt = 0
    stt_audio_seconds: NonNegativeFloat = 0.0
    items: Annotated[list[UsageItem], msgspec.Meta(max_length=MAX_USAGE_ITEMS)] = []


# A participant's LiveKit attributes (SIP calls carry `sip.phoneNumber`, `sip.trunkPhoneNumber`, ...), bounded so
# one participant cannot make an event no consumer can store. The agent keeps what fits.
ATTRIBUTES_MAX = 64
ATTRIBUTE_KEY_MAX = 128
ATTRIBUTE_VALUE_MAX = 1024
PARTICIPANT_METADATA_MAX = 8192
AttributeKey = Annotated[str, msgspec.Meta(min_length=1, max_length=ATTRIBUTE_KEY_MAX)]
AttributeValue = Annotated[str, msgspec.Meta(max_length=ATTRIBUTE_VALUE_MAX)]
Attributes = Annotated[dict[AttributeKey, AttributeValue], msgspec.Meta(max_length=ATTRIBUTES_MAX)]
ParticipantMetadata = Annotated[str, msgspec.Meta(max_length=PARTICIPANT_METADATA_MAX)]
# `SessionStarted.history_preload`: what came of asking history for the earlier turns.
HistoryPreload = Literal["loaded", "empty", "timeout", "unavailable", "off"]


class WordTiming(msgspec.Struct, frozen=True, kw_only=True):
    """One recognized word and when it was said, in seconds from its turn's `started_at` (as the speech recognizer
    timed it: click-to-seek in a transcript, and the audio a redaction silences)."""

    word: Annotated[str, msgspec.Meta(max_length=200)]
    start: NonNegativeFloat
    end: NonNegativeFloat


MAX_TIMED_WORDS = 10_000


class Redaction(msgspec.Struct, frozen=True, kw_only=True):
    """Personal data the agent removed from a text before it left the call: its kind (`CREDIT_CARD`,
    `PHONE_NUMBER`, `EMAIL_ADDRESS`, ...) and where the mask that replaced it is in the text, as `[start, end)` in
    Unicode code points. Never the value."""

    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Z][A-Z0-9_]*$")]
    start: Count
    end: Count


MAX_REDACTIONS = 1_000
Redactions = Annotated[list[Redaction], msgspec.Meta(max_length=MAX_REDACTIONS)]


class SessionStarted(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="session_started.v1"):
    """An agent session began in a room.

    `turns_loaded` is how many earlier turns the agent was given (from history), `history_preload` what came of
    asking: `loaded`, `empty` (history holds none), `timeout` (not within the budget), `unavailable` (no
    responder, an error, NATS down) or `off` (the deployment asks for none)."""

    room_name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    room_sid: str | None = None
    agent_name: str
    user_id: str | None = None
    started_at: UtcDatetime
    metadata: dict[str, str] | None = None
    resumed_from: Id | None = None
    turns_loaded: Count | None = None
    history_preload: HistoryPreload | None = None


class ParticipantJoined(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="participant_joined.v1"):
    """A participant (caller, agent, SIP leg...) joined the session's room, as the agent saw it: published once
    per join, by the agent alone. `metadata` and `attributes` are the participant's own in LiveKit (its join
    token's, or the SIP service's: `sip.phoneNumber`, `sip.trunkPhoneNumber`...)."""

    identity: str
    kind: str
    at: UtcDatetime
    metadata: ParticipantMetadata | None = None
    attributes: Attributes = {}


class ParticipantLeft(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="participant_left.v1"):
    """A participant left the session's room."""

    identity: str
    kind: str
    at: UtcDatetime


class TurnCompleted(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="turn_completed.v1"):
    """One user or assistant message, final. `seq` is 1, 2, 3... per session, in emit order.

    `occurred_at` is the message's time, the `at` it has in `session_ended`'s messages; `started_at` and
    `ended_at` are when its speech started and stopped, when the framework measured them.
    """

    seq: Seq
    role: Role
    text: str
    interrupted: bool = False
    started_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    language: str | None = None
    metrics: TurnMetrics | None = None
    usage: Usage | None = None
    # Which of the session's agents spoke (an assistant turn) or was listening (a user turn), by its name.
    agent: str | None = None
    # The caller's words with their times, when the speech recognizer gives them (user turns).
    words: Annotated[list[WordTiming], msgspec.Meta(max_length=MAX_TIMED_WORDS)] | None = None
    # What the agent removed from `text` (and from `words`) before the turn left the call.
    redactions: Redactions = []


class AgentHandoff(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="agent_handoff.v1"):
    """One agent of the session handed the conversation to another (a receptionist to a booking agent, say).
    Turns after it name `to_agent` as their agent."""

    from_agent: str | None = None
    to_agent: str
    reason: str | None = None
    at: UtcDatetime


class ParticipantSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A participant's presence in the session, for the end-of-session summary."""

    identity: str
    kind: str
    joined_at: UtcDatetime
    left_at: UtcDatetime | None = None


class MessageSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One message of the session, for the end-of-session summary."""

    seq: Seq
    role: Role
    text: str
    at: UtcDatetime
    agent: str | None = None
    redactions: Redactions = []  # as on the message's turn


class HandoffSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One handoff between the session's agents, for the end-of-session summary."""

    from_agent: str | None = None
    to_agent: str
    reason: str | None = None
    at: UtcDatetime


class RecordingRef(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where the agent left the session's audio: an object in a NATS object store bucket."""

    bucket: str
    key: str
    bytes: NonNegativeInt
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    content_type: str
    duration_seconds: NonNegativeFloat | None = None


# `SessionEnded.reason` when the agent could not end the session itself (killed outright): history publishes
# the end, with producer `history`, once nothing of the session has arrived for a while. No audio recording.
AGENT_LOST = "agent_lost"


class SessionEnded(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="session_ended.v1"):
    """The session is over: its summary, with every message, so a consumer can rebuild it alone.

    Two producers, on purpose: the agent, at the end of every session it ran; and history, for a session whose
    agent was lost (killed outright), once nothing of the session has arrived for a while: `producer` is
    `history`, `reason` is `agent_lost`, there is no recording, and its `event_id` is derived from the session,
    so every history replica publishes the same event. Should the agent's own end of that session still arrive
    later (replayed from its disk), it replaces history's: prefer the event whose producer is `agent`."""

    reason: str
    started_at: UtcDatetime
    ended_at: UtcDatetime
    duration_seconds: NonNegativeFloat
    turn_count: Count
    participants: list[ParticipantSummary] = []
    messages: list[MessageSummary] = []
    usage: Usage | None = None
    recording: RecordingRef | None = None
    # True when a very long call's summary kept only its most recent messages (every turn is still
    # published as its own turn_completed event).
    messages_truncated: bool = False
    room_name: str | None = None
    handoffs: list[HandoffSummary] = []
    # The analysis the room asked for after the call (its metadata's `analysis_schema`), by name.
    analysis_schema: str | None = None


# A summary's messages stay within this many bytes (the stream takes 1 MiB per message).
SUMMARY_MAX_BYTES = 512 * 1024


def newest_that_fit(texts: Sequence[str], max_bytes: int = SUMMARY_MAX_BYTES) -> int:
    """How many of the newest messages (`texts`, oldest first) a `SessionEnded` summary of `max_bytes` holds:
    each costs its UTF-8 text and about 120 bytes of JSON around it. Producers keep those, and set
    `messages_truncated` when any are left out."""
    budget, fit = max_bytes, 0
    for text in reversed(texts):
        budget -= len(text.encode()) + 120
        if budget < 0:
            break
        fit += 1
    return fit


__all__ = [
    "AGENT_LOST",
    "ATTRIBUTES_MAX",
    "ATTRIBUTE_KEY_MAX",
    "ATTRIBUTE_VALUE_MAX",
    "PARTICIPANT_METADATA_MAX",
    "SUMMARY_MAX_BYTES",
    "AgentHandoff",
    "Attributes",
    "HandoffSummary",
    "HistoryPreload",
    "Id",
    "MessageSummary",
    "ParticipantJoined",
    "ParticipantLeft",
    "ParticipantSummary",
    "RecordingRef",
    "SessionEnded",
    "SessionStarted",
    "TurnCompleted",
    "TurnMetrics",
    "Usage",
    "UsageItem",
    "WordTiming",
    "newest_that_fit",
]
