"""In-memory stand-ins of the rooms ports: a store with the SQL store's rules, a LiveKit that records calls."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from parley_contracts import AGENT_LOST
from parley_rooms.ports import (
    CreatedRoom,
    JoinToken,
    KeyInFlight,
    LiveKitUnavailable,
    NewRoom,
    ParticipantView,
    RoomExists,
    RoomView,
    ScrubbedRoom,
    SessionFact,
    TokenGrant,
)

EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass
class State:
    rooms: dict[str, RoomView] = field(default_factory=dict)
    sessions: dict[str, SessionFact] = field(default_factory=dict)
    participants: dict[tuple[str, str], ParticipantView] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    receipts: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)


def _latest(state: State, room: str) -> SessionFact | None:
    sessions = [s for s in state.sessions.values() if s.room_name == room]
    dated = [s for s in sessions if (s.started_at or s.ended_at) is not None]
    return max(dated, key=lambda s: s.started_at or s.ended_at or EARLIEST) if dated else None


def _view(state: State, room: RoomView) -> RoomView:
    s = _latest(state, room.name)
    ended = room.finished_at is not None or (s is not None and s.ended_at is not None)
    status = "ended" if ended else "active" if s is not None and s.started_at is not None else "waiting"
    if s is None:
        return replace(room, status=status)
    return replace(
        room,
        status=status,
        agent_session_id=s.session_id,
        session_started_at=s.started_at,
        session_ended_at=s.ended_at,
        session_duration_seconds=s.duration,
        session_end_reason=s.end_reason,
    )


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((t for t in (a, b) if t is not None), default=None)


class MemoryTx:
    def __init__(self, state: State) -> None:
        self.s = state

    async def get_room(self, name: str, *, lock: bool = False) -> RoomView | None:
        room = self.s.rooms.get(name)
        return _view(self.s, room) if room is not None else None

    async def room_exists(self, name: str) -> bool:
        return name in self.s.rooms

    async def list_rooms(
        self, *, status: str | None, user_id: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[RoomView]:
        views = sorted((_view(self.s, r) for r in self.s.rooms.values()), key=lambda r: (r.created_at, r.name))
        views = [
            v
            for v in reversed(views)
            if (status is None or v.status == status)
            and (user_id is None or v.user_id == user_id)
            and (after is None or (v.created_at, v.name) < after)
        ]
        return views[: limit + 1]

    async def participants(self, name: str) -> list[ParticipantView]:
        found = [p for (room, _), p in self.s.participants.items() if room == name]
        return sorted(found, key=lambda p: p.joined_at or EARLIEST)

    async def idempotent_room(self, key: str) -> tuple[str, str] | None:
        return self.s.keys.get(key)

    async def is_erased(self, conversation_id: str) -> bool:
        return conversation_id in self.s.erased

    async def hold_conversation(self, conversation_id: str) -> bool:
        return conversation_id in self.s.erased

    async def active_rooms(self, user_id: str | None, now: datetime, empty_timeout: timedelta) -> tuple[int, int]:
        active = [
            v for v in (_view(self.s, r) for r in self.s.rooms.values())
            if v.status != "ended" and v.erased_at is None
            and (v.created_at > now - empty_timeout or v.status == "active")
        ]  # fmt: skip
        return len(active), sum(v.user_id == user_id for v in active)

    async def insert_room(self, room: NewRoom, *, idempotency: tuple[str, str] | None = None) -> None:
        if room.name in self.s.rooms:
            raise RoomExists(f"room {room.name} already exists")
        if idempotency is not None and idempotency[0] in self.s.keys:
            raise KeyInFlight("a request with this Idempotency-Key is in progress")
        self.s.rooms[room.name] = RoomView(
            name=room.name,
            sid=room.sid,
            status="waiting",
            conversation_id=room.conversation_id,
            user_id=room.user_id,
            agent_name=room.agent_name,
            metadata=dict(room.metadata),
            created_at=room.created_at,
        )
        if idempotency is not None:
            self.s.keys[idempotency[0]] = (idempotency[1], room.name)

    async def finish_room(self, name: str, at: datetime, reason: str) -> bool:
        room = self.s.rooms.get(name)
        if room is None or room.finished_at is not None:
            return False
        self.s.rooms[name] = replace(room, finished_at=at)
        return True

    async def set_room_sid(self, name: str, sid: str) -> None:
        room = self.s.rooms[name]
        if room.sid is None:
            self.s.rooms[name] = replace(room, sid=sid)

    async def first_receipt(self, webhook_id: str, event: str, at: datetime) -> bool:
        if webhook_id in self.s.receipts:
            return False
        self.s.receipts.add(webhook_id)
        return True

    async def participant_joined(self, room: str, identity: str, kind: str, at: datetime) -> None:
        old = self.s.participants.get((room, identity))
        if old is None:
            self.s.participants[room, identity] = ParticipantView(identity, kind, at, None)
            return
        left = None if old.left_at is not None and old.left_at < at else old.left_at
        self.s.participants[room, identity] = replace(old, joined_at=_max(old.joined_at, at), left_at=left)

    async def participant_left(self, room: str, identity: str, kind: str, at: datetime) -> None:
        old = self.s.participants.get((room, identity))
        if old is None:
            self.s.participants[room, identity] = ParticipantView(identity, kind, None, at)
        elif old.joined_at is None or old.joined_at <= at:
            self.s.participants[room, identity] = replace(old, left_at=_max(old.left_at, at))

    async def merge_sessions(self, facts: Sequence[SessionFact]) -> None:
        for f in facts:
            old = self.s.sessions.get(f.session_id)
            if old is None:
                self.s.sessions[f.session_id] = copy.copy(f)
                continue
            old.room_name = old.room_name or f.room_name
            old.started_at = old.started_at or f.started_at
            if old.end_reason == AGENT_LOST and f.end_reason not in (None, AGENT_LOST):
                old.ended_at, old.end_reason, old.duration = f.ended_at, f.end_reason, f.duration
            else:
                old.ended_at = old.ended_at or f.ended_at
                old.end_reason = old.end_reason or f.end_reason
                old.duration = old.duration if old.duration is not None else f.duration

    async def erase_conversations(self, conversation_ids: Sequence[str], now: datetime) -> list[ScrubbedRoom]:
        ids = set(conversation_ids)
        self.s.erased |= ids
        scrubbed = []
        for name, room in sorted(self.s.rooms.items()):
            if room.conversation_id in ids:
                self.s.rooms[name] = replace(room, user_id=None, metadata={}, erased_at=room.erased_at or now)
                scrubbed.append(ScrubbedRoom(name, room.conversation_id, room.finished_at is not None))
                self.s.participants = {k: p for k, p in self.s.participants.items() if k[0] != name}
                self.s.keys = {k: v for k, v in self.s.keys.items() if v[1] != name}
        return scrubbed


class MemoryRoomStore:
    """Writes are atomic: a transaction works on a copy that replaces the state only when it commits."""

    def __init__(self) -> None:
        self.state = State()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[MemoryTx]:
        yield MemoryTx(self.state)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[MemoryTx]:
        draft = copy.deepcopy(self.state)
        yield MemoryTx(draft)
        self.state = draft


@dataclass
class FakeLiveKit:
    """Records what the use cases asked of LiveKit; `down` makes every call fail as an outage would."""

    rooms: dict[str, dict[str, object]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    dispatched: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    grants: list[TokenGrant] = field(default_factory=list)
    down: bool = False

    async def create_room(self, name: str, metadata: dict[str, object]) -> CreatedRoom:
        self._check()
        self.rooms[name] = dict(metadata)
        return CreatedRoom(name=name, sid=f"RM_{name}")

    async def delete_room(self, name: str) -> None:
        self._check()
        self.rooms.pop(name, None)
        self.deleted.append(name)

    async def dispatch_agent(self, room: str, metadata: dict[str, object]) -> None:
        self._check()
        self.dispatched.append((room, metadata))

    async def replace_metadata(self, name: str, metadata: dict[str, object]) -> None:
        self._check()
        if name in self.rooms:
            self.rooms[name] = dict(metadata)

    def join_token(self, grant: TokenGrant) -> JoinToken:
        self.grants.append(grant)
        return JoinToken(token=f"token-for-{grant.identity}", expires_at=datetime.now(UTC) + timedelta(seconds=1))

    def _check(self) -> None:
        if self.down:
            raise LiveKitUnavailable("LiveKit unreachable: ClientConnectorError")


def published_types(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]
