"""Erasure on request: delete a conversation from history, retire its id, and propagate the erasure.

`erase()` runs in one transaction under the conversation's exclusive lock (migration 0006): it records
the tombstone and deletes the conversation's turns, sessions and row. From then on the consumer drops
the conversation's events (`store`), whenever they arrive. The erasure is repeatable: erasing again
deletes whatever is there (nothing, normally) and returns the first request's record.

`propagate()` finishes what the transaction could not do atomically, through an `ErasureBus` (NATS in
production): publish `conversation_erased.v1` so recordings and every other subscriber delete their
copies, then purge the conversation's events from the streams. Each step is idempotent (the event keeps
its id, a purge of nothing is fine) and recorded only once done, so replicas and retries can repeat it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts import ConversationErased, new_event_id
from parley_history.db import driver_connection, rows_affected

logger = logging.getLogger(__name__)

PRODUCER = "history"
LOCK_SEED = 0x7061726C  # as in migration 0006

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, $2))"
RECORD = """
INSERT INTO history.erasures (conversation_id, event_id, requested_at) VALUES ($1, $2, $3)
ON CONFLICT (conversation_id) DO NOTHING
"""
COUNT = """
UPDATE history.erasures SET turns_deleted = turns_deleted + $2, sessions_deleted = sessions_deleted + $3
WHERE conversation_id = $1 RETURNING *
"""
# Not done: the event unpublished, the streams unpurged, or a late event since the purge. The partial index
# of migration 0006 has exactly this predicate, so the queries below that filter on it use it.
_UNFINISHED = "(published_at IS NULL OR purged_at IS NULL OR late_event_at > purged_at)"
# `read_at`: the database's clock when the row was read, before the purge. A purge covers the events that were
# in the stream when it ran, so an event the consumer dropped after `read_at` may be left: it sets
# `late_event_at` later than the `purged_at` recorded here, and the conversation is purged again.
UNFINISHED = f"""
SELECT *, clock_timestamp() AS read_at FROM history.erasures WHERE {_UNFINISHED}
ORDER BY requested_at LIMIT $1
"""  # noqa: S608 (constant fragments only)
# An event of an erased conversation reached the consumer (dropped or passed over): it is in a stream again.
LATE = "UPDATE history.erasures SET late_event_at = clock_timestamp() WHERE conversation_id = ANY($1::text[])"
# The age of the work waiting: since the request, or for one only purged again, since its late event.
BACKLOG = f"""
SELECT count(*) AS unfinished, EXTRACT(EPOCH FROM now() - min(
    CASE WHEN published_at IS NULL OR purged_at IS NULL THEN requested_at ELSE late_event_at END)) AS oldest
FROM history.erasures WHERE {_UNFINISHED}
"""  # noqa: S608 (constant fragments only)
# Pages of erasures, oldest request first: all of them, or those a status selects.
_PAGE = """
SELECT * FROM history.erasures WHERE {where} AND (requested_at, conversation_id) > ($1, $2)
ORDER BY requested_at, conversation_id LIMIT $3
"""
PAGES = {
    None: _PAGE.format(where="true"),
    "propagating": _PAGE.format(where=_UNFINISHED),
    "done": _PAGE.format(where=f"NOT COALESCE({_UNFINISHED}, false)"),
}
PUBLISHED = "UPDATE history.erasures SET published_at = now() WHERE conversation_id = $1"
PURGED = "UPDATE history.erasures SET purged_at = GREATEST(purged_at, $2) WHERE conversation_id = $1"


@dataclass(frozen=True)
class Erasure:
    conversation_id: str
    event_id: UUID
    requested_at: datetime
    turns_deleted: int
    sessions_deleted: int
    published_at: datetime | None
    purged_at: datetime | None
    late_event_at: datetime | None

    @property
    def purged(self) -> bool:
        """The streams hold none of its events: purged, and no late event since (UNFINISHED, in Python)."""
        return self.purged_at is not None and (self.late_event_at is None or self.late_event_at <= self.purged_at)

    @property
    def done(self) -> bool:
        return self.published_at is not None and self.purged

    def event(self) -> ConversationErased:
        return ConversationErased(
            event_id=self.event_id,
            occurred_at=self.requested_at,
            conversation_id=self.conversation_id,
            producer=PRODUCER,
        )


class ErasureBus(Protocol):
    async def publish(self, event: ConversationErased) -> None:
        """Publish the event and wait until the stream has it."""

    async def purge(self, conversation_id: str) -> None:
        """Remove the conversation's events (all but the erasure itself) from the streams."""


def _erasure(row: asyncpg.Record) -> Erasure:
    return Erasure(**{f: row[f] for f in Erasure.__dataclass_fields__})


async def erase(engine: AsyncEngine, conversation_id: str, *, now: datetime | None = None) -> Erasure:
    """Delete the conversation's rows and retire its id; returns the erasure record."""
    async with driver_connection(engine) as conn, conn.transaction():
        await conn.execute(LOCK, conversation_id, LOCK_SEED)
        await conn.execute(RECORD, conversation_id, new_event_id(), now or datetime.now(UTC))
        turns = rows_affected(
            await conn.execute("DELETE FROM history.turns WHERE conversation_id = $1", conversation_id)
        )
        sessions = rows_affected(
            await conn.execute("DELETE FROM history.sessions WHERE conversation_id = $1", conversation_id)
        )
        await conn.execute("DELETE FROM history.conversations WHERE id = $1", conversation_id)
        row = await conn.fetchrow(COUNT, conversation_id, turns, sessions)
    assert row is not None
    logger.info("conversation erased", extra={"conversation_id": conversation_id, "turns": turns, "sessions": sessions})
    return _erasure(row)


async def get(engine: AsyncEngine, conversation_id: str) -> Erasure | None:
    async with driver_connection(engine) as conn:
        row = await conn.fetchrow("SELECT * FROM history.erasures WHERE conversation_id = $1", conversation_id)
    return None if row is None else _erasure(row)


async def page(
    engine: AsyncEngine, *, status: str | None, after: tuple[datetime, str] | None, limit: int
) -> list[Erasure]:
    """Up to `limit` erasures after the key `after` (requested_at, conversation_id), oldest first."""
    start = after or (datetime.min.replace(tzinfo=UTC), "")
    async with driver_connection(engine) as conn:
        rows = await conn.fetch(PAGES[status], *start, limit)
    return [_erasure(r) for r in rows]


async def note_late_events(engine: AsyncEngine, conversation_ids: Collection[str]) -> None:
    """Events of these conversations arrived: those of erased ones are purged again (no-op for the others)."""
    if conversation_ids:
        async with driver_connection(engine) as conn:
            await conn.execute(LATE, sorted(conversation_ids))


@dataclass
class Backlog:
    """Erasures not yet done, for the gauges: how many, and how long the oldest has waited."""

    unfinished: int = 0
    oldest_seconds: float = 0.0


async def backlog(engine: AsyncEngine) -> Backlog:
    async with driver_connection(engine) as conn:
        row = await conn.fetchrow(BACKLOG)
    assert row is not None
    return Backlog(int(row["unfinished"]), float(row["oldest"] or 0.0))


async def _set(engine: AsyncEngine, sql: str, *args: object) -> None:
    async with driver_connection(engine) as conn:
        await conn.execute(sql, *args)


async def propagate(engine: AsyncEngine, bus: ErasureBus, *, limit: int = 100) -> int:
    """Publish and purge what is still to do for up to `limit` erasures; returns how many were finished."""
    async with driver_connection(engine) as conn:
        rows = await conn.fetch(UNFINISHED, limit)
    finished = 0
    for row in rows:
        erasure = _erasure(row)
        if erasure.published_at is None:
            await bus.publish(erasure.event())
            await _set(engine, PUBLISHED, erasure.conversation_id)
        await bus.purge(erasure.conversation_id)
        await _set(engine, PURGED, erasure.conversation_id, row["read_at"])
        finished += 1
    if finished:
        logger.info("erasures propagated", extra={"erasures": finished})
    return finished
