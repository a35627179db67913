"""Base types shared by every Parley event: the envelope fields and the constrained scalar types.

The envelope is the part of the public contract that never changes between event types:
`type` (the tag), `event_id`, `occurred_at`, `conversation_id`, `session_id`, `producer`.
Rules for evolving it are in DESIGN.md: add fields only with defaults; never rename, retype or remove.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

# A conversation or session id becomes a NATS subject token, so it may not contain `.`, `*`, `>` or
# whitespace. Letters, digits, `_` and `-` cover UUIDs, ULIDs and LiveKit ids (`AJ_xxx`, `RM_xxx`).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
ID_RE = re.compile(ID_PATTERN)
Id = Annotated[
    str,
    msgspec.Meta(
        pattern=ID_PATTERN,
        description="Identifier safe to use as a NATS subject token (letters, digits, _ and -).",
        examples=["3f0c8f7e-2a9b-4c1e-9d0a-6b1f2f6a9c11"],
    ),
]
# A naive datetime is ambiguous on the wire: msgspec rejects it when tz=True.
UtcDatetime = Annotated[
    datetime, msgspec.Meta(tz=True, description="RFC 3339 timestamp with a time zone (UTC by convention).")
]
# Integers are bounded by the columns that store them: a value no consumer can store is invalid on the wire
# (dead-lettered at once, as undecodable), not an error every consumer retries until `max_deliver`.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX, description="1, 2, 3... per session (a 32-bit integer).")]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
Role = Literal["user", "assistant"]

_MILLIS = (1 << 48) - 1
_RAND_B = (1 << 62) - 1


def new_event_id() -> UUID:
    """A fresh event id (UUIDv7, RFC 9562). Producers create it once, at emit time, and keep it across retries.

    Version 7 puts the Unix time in milliseconds in the top 48 bits, so ids made close in time sit close
    together in a B-tree: history's unique `event_id` index takes each new id at its right edge instead of on a
    random page, which costs Postgres less CPU per turn and no random reads once the index outgrows memory.
    The other 74 bits come from `os.urandom`, like uuid4's, so forked workers never share a sequence.
    """
    return _uuid7(time.time_ns() // 1_000_000, os.urandom(10))


def derived_event_id(seed: str, at: datetime) -> UUID:
    """A UUIDv7 for the time `at` whose other bits come from `seed`: the same seed and time give the same id.
    For an event several replicas may publish for one fact (history's end of a session whose agent was lost):
    JetStream and every consumer then see one event."""
    return _uuid7(int(at.timestamp() * 1000), hashlib.sha256(seed.encode()).digest()[:10])


def _uuid7(millis: int, random: bytes) -> UUID:
    rand = int.from_bytes(random, "big")  # 80 bits: 12 for rand_a, 62 for rand_b, 6 unused
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & _RAND_B
    return UUID(int=(millis & _MILLIS) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Event(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of every event on the bus. Never remove or retype a field; add new ones with a default.

    `event_id` is also sent as the `Nats-Msg-Id` header, so JetStream de-duplicates retries of one emit,
    and consumers use it as their idempotency key.
    """

    event_id: UUID
    occurred_at: UtcDatetime
    conversation_id: Id
    producer: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

    @classmethod
    def tag(cls) -> str:
        """The versioned type name, e.g. `turn_completed.v1`."""
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str)
        return tag


class SessionEvent(Event, frozen=True, kw_only=True, omit_defaults=True):
    """An event that belongs to one agent session (one job in one room)."""

    session_id: Id


class RoomEvent(Event, frozen=True, kw_only=True, omit_defaults=True):
    """An event about a LiveKit room. A room may exist before any agent session, so the session is optional."""

    session_id: Id | None = None
