"""The recordings table: what is stored, looked up by session, conversation or id."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_recordings.models import erasures, recordings
from parley_runtime.db import poison_reason
from parley_runtime.messaging.handling import PoisonError

_NAMESPACE = uuid.UUID("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
# The advisory-lock key space is shared by everything using the database (history locks conversations with a
# seed of its own): a seed of ours keeps a session's key from meeting theirs.
_LOCK_SEED = 0x72656373
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:session, :seed))")


def recording_id(session_id: str, kind: str, fmt: str) -> uuid.UUID:
    """Deterministic: the same object of the same session always has the same id (and event id)."""
    return uuid.uuid5(_NAMESPACE, f"{session_id}:{kind}:{fmt}")


@dataclass(frozen=True)
class Recording:
    id: uuid.UUID
    session_id: str
    conversation_id: str
    kind: str
    format: str
    uri: str
    key: str
    bytes: int
    sha256: str
    content_type: str
    created_at: datetime
    provisional: bool = False  # from history's end for a lost agent: the agent's own end replaces it


def _row(r: Any) -> Recording:
    return Recording(**{c: getattr(r, c) for c in Recording.__dataclass_fields__})


class RecordingRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def for_session(self, session_id: str) -> list[Recording]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(recordings).where(recordings.c.session_id == session_id))
            return [_row(r) for r in rows]

    @asynccontextmanager
    async def session_claim(self, session_id: str) -> AsyncIterator[bool]:
        """Hold the session's lock while the block runs, if no other worker holds it; yields whether it did.

        A transaction-scoped advisory lock, held by a transaction left open on a connection of its own: it
        works behind PgBouncer's transaction pooling too, and Postgres drops it with the connection should
        this process die. (A server whose `idle_in_transaction_session_timeout` is shorter than the longest
        upload ends that transaction early, and the lock with it: leave that setting off for this role.)"""
        async with self.engine.connect() as conn, conn.begin():
            got = (await conn.execute(_TRY_LOCK, {"session": session_id, "seed": _LOCK_SEED})).scalar()
            yield bool(got)

    async def put(self, rec: Recording) -> tuple[Recording, bool]:
        """Insert `rec` unless its (session, kind, format) is stored, where a final row replaces a provisional
        one and nothing else changes: (the row as stored now, whether this call replaced an existing row).

        Raises `PoisonError` for a row Postgres can never store (a NUL in the content type, say), so the caller
        knows no row will ever name the object it wrote."""
        row_in = insert(recordings).values(**rec.__dict__)
        stmt = row_in.on_conflict_do_update(
            index_elements=[recordings.c.id],  # the id is derived from (session, kind, format)
            set_={col.name: row_in.excluded[col.name] for col in recordings.columns if col.name != "id"},
            where=recordings.c.provisional & ~row_in.excluded.provisional,
        ).returning(
            *recordings.columns, literal_column("xmax::text <> '0'").label("replaced")
        )  # xmax: set by an update
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(stmt)).first()
                if row is not None:
                    return _row(row), bool(row.replaced)
                kept = (await conn.execute(select(recordings).where(recordings.c.id == rec.id))).one()
                return _row(kept), False
        except (DBAPIError, OverflowError) as exc:
            if (reason := poison_reason(exc)) is not None:
                raise PoisonError(reason) from exc
            raise

    async def get(self, rid: uuid.UUID) -> Recording | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(recordings).where(recordings.c.id == rid))).first()
            return _row(row) if row else None

    async def page(
        self,
        *,
        conversation_id: str | None,
        session_id: str | None,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None,
    ) -> list[Recording]:
        q = select(recordings).order_by(recordings.c.created_at, recordings.c.id).limit(limit + 1)
        if conversation_id is not None:
            q = q.where(recordings.c.conversation_id == conversation_id)
        if session_id is not None:
            q = q.where(recordings.c.session_id == session_id)
        if after is not None:
            q = q.where(tuple_(recordings.c.created_at, recordings.c.id) > tuple_(*after))
        async with self.engine.connect() as conn:
            return [_row(r) for r in await conn.execute(q)]

    async def older_than(self, cutoff: datetime, limit: int = 500) -> list[Recording]:
        q = select(recordings).where(recordings.c.created_at < cutoff).order_by(recordings.c.created_at).limit(limit)
        async with self.engine.connect() as conn:
            return [_row(r) for r in await conn.execute(q)]

    async def delete(self, rid: uuid.UUID) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(recordings.delete().where(recordings.c.id == rid))

    async def for_conversation(self, conversation_id: str) -> list[Recording]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(recordings).where(recordings.c.conversation_id == conversation_id))
            return [_row(r) for r in rows]

    async def retire(self, conversation_id: str, at: datetime) -> None:
        """Record that the conversation was erased (idempotent)."""
        async with self.engine.begin() as conn:
            stmt = insert(erasures).values(conversation_id=conversation_id, erased_at=at)
            await conn.execute(stmt.on_conflict_do_nothing())

    async def is_erased(self, conversation_id: str) -> bool:
        async with self.engine.connect() as conn:
            q = select(erasures.c.conversation_id).where(erasures.c.conversation_id == conversation_id)
            return (await conn.execute(q)).first() is not None
