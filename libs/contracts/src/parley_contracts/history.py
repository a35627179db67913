"""The `history.v1.recent` request/reply contract (NATS micro service run by history, used by the agent).

Errors come back as NATS micro service errors: headers `Nats-Service-Error-Code` (400 for a bad
request, 500 when the store is unavailable) and `Nats-Service-Error` (the description).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from parley_contracts._base import Id, Role, UtcDatetime

RECENT_DEFAULT_LIMIT = 20
RECENT_MAX_LIMIT = 200


class RecentTurnsRequest(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: Id
    limit: Annotated[int, msgspec.Meta(ge=1, le=RECENT_MAX_LIMIT)] = RECENT_DEFAULT_LIMIT


class RecentTurn(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    session_id: str
    seq: int
    role: Role
    text: str
    at: UtcDatetime
    interrupted: bool = False


class RecentTurnsReply(msgspec.Struct, frozen=True, kw_only=True):
    """The most recent turns of the conversation, oldest first."""

    conversation_id: str
    turns: list[RecentTurn]
