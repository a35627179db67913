"""What the rooms use cases need from the world, as Protocols, and the records and errors they speak in.

The use cases (`usecases`, `events`) know nothing of HTTP, NATS, SQL or livekit-api: the composition root
hands them a `RoomStore` (Postgres in `store`, in memory in the unit tests), a `LiveKit` gateway and a
`publish` callable (the outbox's `emit`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import parley_contracts as c

Publish = Callable[[c.Event], None]


@dataclass(frozen=True)
class NewRoom:
    name: str
    conversation_id: str
    user_id: str | None
    agent_name: str
    metadata: dict[str, Any]
    sid: str
    created_at: datetime


@dataclass(frozen=True)
class RoomView:
    """A room as the API shows it: its row and the status derived from its latest agent session."""

    name: str
    sid: str | None
    status: str  # waiting | active | ended
    conversation_id: str
    user_id: str | None
    agent_name: str
    metadata: dict[str, Any]
    created_at: datetime
    agent_session_id: str | None = None
    session_started_at: datetime | None = None
    session_ended_at: datetime | None = None
    session_duration_seconds: float | None = None
    session_end_reason: str | None = None
    finished_at: datetime | None = None
    erased_at: datetime | None = None
    agent_redispatches: int = 0


@dataclass(frozen=True)
class ParticipantView:
    identity: str
    kind: str
    joined_at: datetime | None
    left_at: datetime | None


@dataclass(frozen=True)
class ScrubbedRoom:
    name: str
    conversation_id: str
    finished: bool  # LiveKit closed it; an unfinished one may still be live there, with its metadata


@dataclass
class SessionFact:
    """What one session event says about its agent session; facts of one session merge in any order."""

    session_id: str
    conversation_id: str
    room_name: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class CreatedRoom:
    name: str
    sid: str


@dataclass(frozen=True)
class JoinToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenGrant:
    """Who a join token is for and what it may carry; its grants are always the caller's (join this room)."""

    room: str
    identity: str
    name: str | None = None
    metadata: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    ttl_seconds: int = 3600


class RoomsTx(Protocol):
    """One transaction on the rooms tables (a read-only one from `RoomStore.read`)."""

    async def get_room(self, name: str, *, lock: bool = False) -> RoomView | None: ...
    async def room_exists(self, name: str) -> bool: ...
    async def list_rooms(
        self, *, status: str | None, user_id: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[RoomView]: ...
    async def participants(self, name: str) -> list[ParticipantView]: ...
    async def idempotent_room(self, key: str) -> tuple[str, str] | None: ...
    async def is_erased(self, conversation_id: str) -> bool: ...
    async def hold_conversation(self, conversation_id: str) -> bool:
        """Lock the conversation id until the transaction ends; True when it was erased."""
        ...

    async def active_rooms(self, user_id: str | None, now: datetime, empty_timeout: timedelta) -> tuple[int, int]:
        """Lock room creation until the transaction ends, then count the active rooms: (all, the user's)."""
        ...

    async def insert_room(self, room: NewRoom, *, idempotency: tuple[str, str] | None = None) -> None:
        """Raises `RoomExists` or `KeyInFlight` when a concurrent request took the name or the key."""
        ...

    async def finish_room(self, name: str, at: datetime, reason: str) -> bool: ...
    async def set_room_sid(self, name: str, sid: str) -> None: ...
    async def first_receipt(self, webhook_id: str, event: str, at: datetime) -> bool: ...
    async def participant_joined(self, room: str, identity: str, kind: str, at: datetime) -> None: ...
    async def participant_left(self, room: str, identity: str, kind: str, at: datetime) -> None: ...
    async def merge_sessions(self, facts: Sequence[SessionFact]) -> None: ...
    async def erase_conversations(self, conversation_ids: Sequence[str], now: datetime) -> list[ScrubbedRoom]: ...


@runtime_checkable  # Litestar checks a dependency against its annotation
class RoomStore(Protocol):
    def read(self) -> AbstractAsyncContextManager[RoomsTx]: ...
    def write(self) -> AbstractAsyncContextManager[RoomsTx]: ...


@runtime_checkable
class LiveKit(Protocol):
    async def create_room(self, name: str, metadata: dict[str, object]) -> CreatedRoom: ...
    async def delete_room(self, name: str) -> None: ...
    async def dispatch_agent(self, room: str, metadata: dict[str, object]) -> None: ...
    async def replace_metadata(self, name: str, metadata: dict[str, object]) -> None: ...
    def join_token(self, grant: TokenGrant) -> JoinToken: ...


class RoomsError(Exception):
    """A request the use cases refuse; the API maps each kind to its status once."""


class RoomNotFound(RoomsError):
    pass


class RoomExists(RoomsError):
    pass


class RoomEnded(RoomsError):
    pass


class ConversationWasErased(RoomsError):
    pass


class TokenRefused(RoomsError):
    """A join token asked for what no caller may have (the agent's identity, a life beyond the cap)."""


class KeyReused(RoomsError):
    """An Idempotency-Key sent again with another body."""


class LimitReached(RoomsError):
    """Another room would go over the deployment's or the user's limit of active rooms."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class KeyInFlight(RoomsError):
    """A request with this Idempotency-Key is still in progress."""


class LiveKitUnavailable(Exception):
    """LiveKit could not be reached or failed (5xx, timeout)."""


class LiveKitRejected(Exception):
    """LiveKit refused the request (4xx); `code` is LiveKit's, e.g. `not_found`."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code
