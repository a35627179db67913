"""Retention: transcripts older than `HISTORY_RETENTION_DAYS` are deleted (0, the default, keeps them).

A pass walks the sessions that ended (or started) before the cutoff, a batch at a time, each batch in one
transaction: their turns that occurred before the cutoff, then those sessions if no turn is left, then
their conversations if no session or turn is left and nothing happened in them since the cutoff. A
conversation that goes on for months keeps its recent calls and loses the old ones. A consumer writing a
new session holds its conversation through the foreign key, so the pass leaves that conversation alone;
a consumer that remembered a deleted row finds it gone and writes it again (`store`, `KnownRows`).
Batches are locked with SKIP LOCKED, so every replica can run passes without doing the same work twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_history.db import driver_connection, rows_affected

logger = logging.getLogger(__name__)

# Keyset order by the session's time and id (index ix_sessions_last_time, migration 0005), so a session
# kept because of a late turn is passed over, not selected again.
CANDIDATES = """
SELECT id, conversation_id, COALESCE(ended_at, started_at) AS at FROM history.sessions
WHERE (COALESCE(ended_at, started_at), id) > ($2, $3) AND COALESCE(ended_at, started_at) < $1
ORDER BY COALESCE(ended_at, started_at), id LIMIT $4
FOR UPDATE SKIP LOCKED
"""

# A session whose start and end never arrived (its turns came alone) is judged by its turns only.
UNTIMED = """
SELECT id, conversation_id FROM history.sessions
WHERE ended_at IS NULL AND started_at IS NULL AND id > $1
ORDER BY id LIMIT $2
FOR UPDATE SKIP LOCKED
"""

DELETE_TURNS = "DELETE FROM history.turns WHERE session_id = ANY($1::text[]) AND occurred_at < $2"

DELETE_SESSIONS = """
DELETE FROM history.sessions AS s
WHERE s.id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM history.turns AS t WHERE t.session_id = s.id)
"""

DELETE_CONVERSATIONS = """
DELETE FROM history.conversations AS c
WHERE c.id = ANY($1::text[]) AND c.last_activity_at < $2
  AND NOT EXISTS (SELECT 1 FROM history.sessions AS s WHERE s.conversation_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM history.turns AS t WHERE t.conversation_id = c.id)
"""


@dataclass
class Purged:
    conversations: int = 0
    sessions: int = 0
    turns: int = 0


async def _delete(conn: asyncpg.Connection, rows: list[asyncpg.Record], cutoff: datetime, purged: Purged) -> None:
    sessions = [r["id"] for r in rows]
    conversations = sorted({r["conversation_id"] for r in rows})
    purged.turns += rows_affected(await conn.execute(DELETE_TURNS, sessions, cutoff))
    purged.sessions += rows_affected(await conn.execute(DELETE_SESSIONS, sessions))
    purged.conversations += rows_affected(await conn.execute(DELETE_CONVERSATIONS, conversations, cutoff))


async def purge_expired(engine: AsyncEngine, *, days: int, now: datetime | None = None, batch: int = 500) -> Purged:
    """One pass; returns what it deleted. Does nothing when `days` is 0 or less."""
    purged = Purged()
    if days <= 0:
        return purged
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    async with driver_connection(engine) as conn:
        after: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")
        while True:
            async with conn.transaction():
                rows = await conn.fetch(CANDIDATES, cutoff, *after, batch)
                if rows:
                    await _delete(conn, rows, cutoff, purged)
            if not rows:
                break
            after = (rows[-1]["at"], rows[-1]["id"])
        untimed_after = ""
        while True:
            async with conn.transaction():
                rows = await conn.fetch(UNTIMED, untimed_after, batch)
                if rows:
                    await _delete(conn, rows, cutoff, purged)
            if not rows:
                break
            untimed_after = rows[-1]["id"]
    logger.info(
        "retention pass",
        extra={"cutoff": cutoff.isoformat(), "conversations": purged.conversations, "turns": purged.turns},
    )
    return purged
