"""Events published by the rooms service, from its API and from verified LiveKit webhooks."""

from __future__ import annotations

from parley_contracts._base import RoomEvent, UtcDatetime

# The key in an agent dispatch's metadata (JSON) naming the session of a lost agent that the dispatched agent
# takes over: the rooms service writes it (agent failover), the agent reads it into `resumed_from`.
DISPATCH_RESUMED_FROM = "resumed_from"


class RoomCreated(RoomEvent, frozen=True, kw_only=True, omit_defaults=True, tag="room_created.v1"):
    """A LiveKit room was created for a conversation."""

    room_name: str
    room_sid: str | None = None
    at: UtcDatetime


class RoomFinished(RoomEvent, frozen=True, kw_only=True, omit_defaults=True, tag="room_finished.v1"):
    """A LiveKit room was closed (everyone left, it timed out, or it was deleted)."""

    room_name: str
    room_sid: str | None = None
    at: UtcDatetime


class RoomParticipantJoined(RoomEvent, frozen=True, kw_only=True, omit_defaults=True, tag="room_participant_joined.v1"):
    """LiveKit's server reports that a participant joined the room (its signed webhook), whether or not an agent
    is there. The agent's own view of a join in its session is `participant_joined.v1`: count joins from one of
    the two, never both. `session_id` is the room's agent session when one had started."""

    room_name: str
    identity: str
    kind: str
    at: UtcDatetime


class RoomParticipantLeft(RoomEvent, frozen=True, kw_only=True, omit_defaults=True, tag="room_participant_left.v1"):
    """LiveKit's server reports that a participant left the room (its signed webhook); see
    `room_participant_joined.v1`."""

    room_name: str
    identity: str
    kind: str
    at: UtcDatetime
