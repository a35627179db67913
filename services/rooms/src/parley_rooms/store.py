"""The rooms store in Postgres: rooms, their derived status, agent sessions, participants, receipts.

`SqlRoomStore` is the `ports.RoomStore` the service runs on: `read()` opens a connection, `write()` a
transaction, each handing out a `SqlRoomsTx` over it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, case, func, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley_rooms import erasure
from parley_rooms.models import agent_sessions, idempotency_keys, participants, rooms, webhook_events
from parley_rooms.ports import KeyInFlight, NewRoom, ParticipantView, RoomExists, RoomView, ScrubbedRoom, SessionFact
from parley_runtime.db import postgres_detail

_latest_session = (
    select(agent_sessions)
    .where(agent_sessions.c.room_name == rooms.c.name)
    .order_by(func.coalesce(agent_sessions.c.started_at, agent_sessions.c.ended_at).desc().nulls_last())
    .limit(1)
    .lateral("s")
)

STATUS = case(
    (rooms.c.finished_at.is_not(None) | _latest_session.c.ended_at.is_not(None), literal_column("'ended'")),
    (_latest_session.c.started_at.is_not(None), literal_column("'active'")),
    else_=literal_column("'waiting'"),
).label("status")

_ROOM_VIEW = select(
    rooms,
    STATUS,
    _latest_session.c.session_id.label("agent_session_id"),
    _latest_session.c.started_at.label("session_started_at"),
    _latest_session.c.ended_at.label("session_ended_at"),
    _latest_session.c.duration_seconds.label("session_duration_seconds"),
    _latest_session.c.end_reason.label("session_end_reason"),
).select_from(rooms.outerjoin(_latest_session, literal_column("true")))


async def insert_room(conn: AsyncConnection, room: NewRoom) -> None:
    await conn.execute(
        rooms.insert().values(
            name=room.name,
            sid=room.sid,
            conversation_id=room.conversation_id,
            user_id=room.user_id,
            agent_name=room.agent_name,
            metadata=room.metadata,
            created_at=room.created_at,
        )
    )


async def idempotent_room(conn: AsyncConnection, key: str) -> tuple[str, str] | None:
    """(request_hash, room_name) recorded for an Idempotency-Key, if any."""
    row = (await conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key))).first()
    return (row.request_hash, row.room_name) if row else None


async def remember_idempotency_key(conn: AsyncConnection, key: str, request_hash: str, room: str, at: datetime) -> None:
    await conn.execute(
        idempotency_keys.insert().values(key=key, request_hash=request_hash, room_name=room, created_at=at)
    )


async def get_room(conn: AsyncConnection, name: str, *, lock: bool = False) -> Row[Any] | None:
    """The room with its derived status; `lock` also locks its row until the transaction ends (an erasure or
    a housekeeping pass waits for it, or passes it over)."""
    q = _ROOM_VIEW.where(rooms.c.name == name)
    if lock:
        q = q.with_for_update(of=rooms, key_share=True)  # FOR NO KEY UPDATE OF rooms
    return (await conn.execute(q)).first()


async def room_exists(conn: AsyncConnection, name: str) -> bool:
    return (await conn.execute(select(rooms.c.name).where(rooms.c.name == name))).first() is not None


async def list_rooms(
    conn: AsyncConnection, *, status: str | None, user_id: str | None, limit: int, after: tuple[datetime, str] | None
) -> list[Row[Any]]:
    view = _ROOM_VIEW.subquery("v")
    q = select(view).order_by(view.c.created_at.desc(), view.c.name.desc()).limit(limit + 1)
    if status is not None:
        q = q.where(view.c.status == status)
    if user_id is not None:
        q = q.where(view.c.user_id == user_id)
    if after is not None:
        q = q.where(tuple_(view.c.created_at, view.c.name) < tuple_(*after))
    return list((await conn.execute(q)).all())


async def room_participants(conn: AsyncConnection, name: str) -> list[Row[Any]]:
    q = select(participants).where(participants.c.room_name == name).order_by(participants.c.joined_at)
    return list((await conn.execute(q)).all())


async def finish_room(conn: AsyncConnection, name: str, at: datetime, reason: str) -> bool:
    """Mark the room finished; True only the first time (replays and races change nothing)."""
    result = await conn.execute(
        rooms.update()
        .where(rooms.c.name == name, rooms.c.finished_at.is_(None))
        .values(finished_at=at, finish_reason=reason)
    )
    return bool(result.rowcount)


async def set_room_sid(conn: AsyncConnection, name: str, sid: str) -> None:
    await conn.execute(rooms.update().where(rooms.c.name == name, rooms.c.sid.is_(None)).values(sid=sid))


async def first_receipt(conn: AsyncConnection, webhook_id: str, event: str, at: datetime) -> bool:
    """Record a webhook delivery; False when this id was already processed (a replay)."""
    stmt = insert(webhook_events).values(id=webhook_id, event=event, received_at=at).on_conflict_do_nothing()
    return bool((await conn.execute(stmt)).rowcount)


# The first end stored stays (any order converges), except the one history publishes for a lost agent: the
# agent's own end, should it still arrive (replayed from a spill file), replaces it, as in history. (A start
# event's NULL reason compares as unknown, so it never replaces anything.)
SESSION_UPSERT = text("""
INSERT INTO rooms.agent_sessions AS s (session_id, room_name, conversation_id, started_at, ended_at, end_reason,
                                       duration_seconds)
VALUES (:session_id, :room_name, :conversation_id, :started_at, :ended_at, :end_reason, :duration)
ON CONFLICT (session_id) DO UPDATE SET
    room_name = COALESCE(s.room_name, EXCLUDED.room_name),
    started_at = COALESCE(s.started_at, EXCLUDED.started_at),
    ended_at = CASE WHEN s.end_reason = 'agent_lost' AND EXCLUDED.end_reason <> 'agent_lost'
                    THEN EXCLUDED.ended_at ELSE COALESCE(s.ended_at, EXCLUDED.ended_at) END,
    end_reason = CASE WHEN s.end_reason = 'agent_lost' AND EXCLUDED.end_reason <> 'agent_lost'
                      THEN EXCLUDED.end_reason ELSE COALESCE(s.end_reason, EXCLUDED.end_reason) END,
    duration_seconds = CASE WHEN s.end_reason = 'agent_lost' AND EXCLUDED.end_reason <> 'agent_lost'
                            THEN EXCLUDED.duration_seconds
                            ELSE COALESCE(s.duration_seconds, EXCLUDED.duration_seconds) END
""")


async def merge_session(conn: AsyncConnection, facts: Sequence[SessionFact]) -> None:
    """Merge session facts (from session_started / session_ended) in key order; any order converges."""
    for fact in sorted(facts, key=lambda f: f.session_id):
        await conn.execute(SESSION_UPSERT, asdict(fact))


PARTICIPANT_JOIN = text("""
INSERT INTO rooms.participants AS p (room_name, identity, kind, joined_at)
VALUES (:room, :identity, :kind, :at)
ON CONFLICT (room_name, identity) DO UPDATE SET
    joined_at = GREATEST(p.joined_at, EXCLUDED.joined_at),
    left_at = CASE WHEN p.left_at IS NOT NULL AND p.left_at < EXCLUDED.joined_at THEN NULL ELSE p.left_at END
""")

PARTICIPANT_LEAVE = text("""
INSERT INTO rooms.participants AS p (room_name, identity, kind, left_at)
VALUES (:room, :identity, :kind, :at)
ON CONFLICT (room_name, identity) DO UPDATE SET
    left_at = CASE WHEN p.joined_at IS NULL OR p.joined_at <= EXCLUDED.left_at
                   THEN GREATEST(p.left_at, EXCLUDED.left_at) ELSE p.left_at END
""")


async def participant_joined(conn: AsyncConnection, room: str, identity: str, kind: str, at: datetime) -> None:
    await conn.execute(PARTICIPANT_JOIN, {"room": room, "identity": identity, "kind": kind, "at": at})


async def participant_left(conn: AsyncConnection, room: str, identity: str, kind: str, at: datetime) -> None:
    await conn.execute(PARTICIPANT_LEAVE, {"room": room, "identity": identity, "kind": kind, "at": at})


_VIEW_FIELDS = tuple(RoomView.__dataclass_fields__)


def room_view(row: Row[Any]) -> RoomView:
    values = row._mapping
    return RoomView(**{name: values[name] for name in _VIEW_FIELDS if name in values})


# One room created at a time while limits apply, on every replica: counting and inserting under this lock, two
# requests cannot both take the last place.
LOCK_CREATION = text("SELECT pg_advisory_xact_lock(hashtext('parley:rooms:creation'))")
# Active: not finished, not erased, its agent session not ended, and either within LiveKit's empty timeout of its
# creation or with an agent session going. A room nobody joined frees its place when the timeout passes.
COUNT_ACTIVE = text("""
SELECT count(*) AS total, count(*) FILTER (WHERE r.user_id = :user_id) AS mine
FROM rooms.rooms r
WHERE r.finished_at IS NULL AND r.erased_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM rooms.agent_sessions s WHERE s.room_name = r.name AND s.ended_at IS NOT NULL)
  AND (r.created_at > :since
       OR EXISTS (SELECT 1 FROM rooms.agent_sessions s WHERE s.room_name = r.name AND s.started_at IS NOT NULL))
""")

# The table a unique violation names when a concurrent request with the same Idempotency-Key won.
_KEY_TABLE = "idempotency_keys"


class SqlRoomsTx:
    """The rooms tables through one connection (in a transaction when it came from `SqlRoomStore.write`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get_room(self, name: str, *, lock: bool = False) -> RoomView | None:
        row = await get_room(self.conn, name, lock=lock)
        return room_view(row) if row is not None else None

    async def room_exists(self, name: str) -> bool:
        return await room_exists(self.conn, name)

    async def list_rooms(
        self, *, status: str | None, user_id: str | None, limit: int, after: tuple[datetime, str] | None
    ) -> list[RoomView]:
        rows = await list_rooms(self.conn, status=status, user_id=user_id, limit=limit, after=after)
        return [room_view(r) for r in rows]

    async def participants(self, name: str) -> list[ParticipantView]:
        return [
            ParticipantView(p.identity, p.kind, p.joined_at, p.left_at)
            for p in await room_participants(self.conn, name)
        ]

    async def idempotent_room(self, key: str) -> tuple[str, str] | None:
        return await idempotent_room(self.conn, key)

    async def is_erased(self, conversation_id: str) -> bool:
        return await erasure.is_erased(self.conn, conversation_id)

    async def hold_conversation(self, conversation_id: str) -> bool:
        return await erasure.hold_conversation(self.conn, conversation_id)

    async def active_rooms(self, user_id: str | None, now: datetime, empty_timeout: timedelta) -> tuple[int, int]:
        await self.conn.execute(LOCK_CREATION)
        row = (await self.conn.execute(COUNT_ACTIVE, {"user_id": user_id, "since": now - empty_timeout})).one()
        return int(row.total), int(row.mine)

    async def insert_room(self, room: NewRoom, *, idempotency: tuple[str, str] | None = None) -> None:
        try:
            await insert_room(self.conn, room)
            if idempotency is not None:
                key, body_hash = idempotency
                await remember_idempotency_key(self.conn, key, body_hash, room.name, room.created_at)
        except IntegrityError as exc:  # a concurrent request won the name or the key
            if postgres_detail(exc, "table_name") == _KEY_TABLE:
                raise KeyInFlight(
                    "a request with this Idempotency-Key is in progress; retry it to get the room it creates"
                ) from exc
            raise RoomExists(f"room {room.name} already exists") from exc

    async def finish_room(self, name: str, at: datetime, reason: str) -> bool:
        return await finish_room(self.conn, name, at, reason)

    async def set_room_sid(self, name: str, sid: str) -> None:
        await set_room_sid(self.conn, name, sid)

    async def first_receipt(self, webhook_id: str, event: str, at: datetime) -> bool:
        return await first_receipt(self.conn, webhook_id, event, at)

    async def participant_joined(self, room: str, identity: str, kind: str, at: datetime) -> None:
        await participant_joined(self.conn, room, identity, kind, at)

    async def participant_left(self, room: str, identity: str, kind: str, at: datetime) -> None:
        await participant_left(self.conn, room, identity, kind, at)

    async def merge_sessions(self, facts: Sequence[SessionFact]) -> None:
        await merge_session(self.conn, facts)

    async def erase_conversations(self, conversation_ids: Sequence[str], now: datetime) -> list[ScrubbedRoom]:
        return await erasure.erase_conversations(self.conn, conversation_ids, now)


class SqlRoomStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqlRoomsTx]:
        async with self.engine.connect() as conn:
            yield SqlRoomsTx(conn)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SqlRoomsTx]:
        async with self.engine.begin() as conn:
            yield SqlRoomsTx(conn)
