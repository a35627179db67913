"""History's request/reply contracts (a NATS micro service run by history): `history.v1.recent`, used by the
agent, and `history.v1.session_turns`, used by recordings.

Errors come back as NATS micro service errors: headers `Nats-Service-Error-Code` (400 for a bad
request, 500 when the store is unavailable) and `Nats-Service-Error` (the description).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from parley_contracts._base import Id, Role, Seq, UtcDatetime

RECENT_DEFAULT_LIMIT = 20
RECENT_MAX_LIMIT = 200
# The text a `SessionTurnsReply` holds at most: with JSON escaping at its worst, a reply stays within 1 MiB.
SESSION_TURNS_REPLY_BYTES = 256 * 1024


class RecentTurnsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The newest turns, oldest first: of the conversation (`scope` `conversation`, the default), or of every
    conversation of `user_id` (`scope` `user`: what the agent remembers of a caller across calls)."""

    conversation_id: Id
    limit: Annotated[int, msgspec.Meta(ge=1, le=RECENT_MAX_LIMIT)] = RECENT_DEFAULT_LIMIT
    scope: Literal["conversation", "user"] = "conversation"
    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None


class RecentTurn(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A stored turn; `at` is its `turn_completed`'s `occurred_at`, the message's time."""

    session_id: str
    seq: int
    role: Role
    text: str
    at: UtcDatetime
    interrupted: bool = False
    conversation_id: str | None = None


class RecentTurnsReply(msgspec.Struct, frozen=True, kw_only=True):
    """The most recent turns of the conversation, oldest first."""

    conversation_id: str
    turns: list[RecentTurn]


class SessionTurnsRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The turns of a session numbered below `before_seq`: the newest of them that fit one reply."""

    session_id: Id
    before_seq: Seq


class SessionTurnsReply(msgspec.Struct, frozen=True, kw_only=True):
    """Oldest first, at most `SESSION_TURNS_REPLY_BYTES` of text (a reply stays within NATS's message size); empty
    when history holds none below `before_seq`. Ask again below the first one for more."""

    session_id: str
    turns: list[RecentTurn]
