"""Housekeeping of the rooms tables, hourly: expired receipts and keys always, old rooms when asked.

* Webhook receipts are kept `RECEIPT_DAYS`: they only stop a delivery LiveKit retries (within minutes)
  from being applied twice.
* Idempotency keys are kept `ROOMS_IDEMPOTENCY_KEY_HOURS` (24): a client retries a create within that
  window; after it, the key is free again and creates a new room.
* With `ROOMS_RETENTION_DAYS` above 0, a room whose last activity (created, finished, an agent session
  started or ended, a participant joined or left) is older than that is deleted with its participants,
  agent sessions and keys. Agent sessions with no room row (rooms Parley did not create, or already
  deleted) go by their own times. Erasure tombstones are never deleted: they retire ids for good.

Every step runs in batches, each in its own transaction with SKIP LOCKED, so replicas share the work and
a webhook holding a room's row (`store.get_room(lock=True)`) is never waited for: that room is taken next pass.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)

RECEIPT_DAYS = 7

EXPIRED_ROOMS = text("""
SELECT r.name, r.created_at FROM rooms.rooms AS r
WHERE r.created_at < :cutoff AND (r.created_at, r.name) > (:after_at, :after_name)
  AND GREATEST(
        r.created_at, r.finished_at,
        (SELECT max(GREATEST(s.started_at, s.ended_at)) FROM rooms.agent_sessions AS s WHERE s.room_name = r.name),
        (SELECT max(GREATEST(p.joined_at, p.left_at)) FROM rooms.participants AS p WHERE p.room_name = r.name)
      ) < :cutoff
ORDER BY r.created_at, r.name LIMIT :batch
FOR UPDATE OF r SKIP LOCKED
""")

DELETE_ROOMS = [
    text("DELETE FROM rooms.participants WHERE room_name = ANY(:names)"),
    text("DELETE FROM rooms.agent_sessions WHERE room_name = ANY(:names)"),
    text("DELETE FROM rooms.idempotency_keys WHERE room_name = ANY(:names)"),
    text("DELETE FROM rooms.rooms WHERE name = ANY(:names)"),
]

ORPHAN_SESSIONS = text("""
DELETE FROM rooms.agent_sessions WHERE session_id IN (
    SELECT s.session_id FROM rooms.agent_sessions AS s
    WHERE COALESCE(s.ended_at, s.started_at) < :cutoff
      AND NOT EXISTS (SELECT 1 FROM rooms.rooms AS r WHERE r.name = s.room_name)
    LIMIT :batch FOR UPDATE OF s SKIP LOCKED)
""")

OLD_RECEIPTS = text("""
DELETE FROM rooms.webhook_events WHERE id IN (
    SELECT id FROM rooms.webhook_events WHERE received_at < :cutoff LIMIT :batch FOR UPDATE SKIP LOCKED)
""")

OLD_KEYS = text("""
DELETE FROM rooms.idempotency_keys WHERE key IN (
    SELECT key FROM rooms.idempotency_keys WHERE created_at < :cutoff LIMIT :batch FOR UPDATE SKIP LOCKED)
""")


@dataclass
class Housekept:
    rooms: int = 0
    sessions: int = 0
    receipts: int = 0
    keys: int = 0


async def _delete_in_batches(engine: AsyncEngine, statement: Any, cutoff: datetime, batch: int) -> int:
    deleted = 0
    while True:
        async with engine.begin() as conn:
            n = (await conn.execute(statement, {"cutoff": cutoff, "batch": batch})).rowcount
        deleted += n
        if n < batch:
            return deleted


async def _delete_rooms(engine: AsyncEngine, cutoff: datetime, batch: int) -> int:
    deleted = 0
    after: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")
    while True:
        async with engine.begin() as conn:
            params = {"cutoff": cutoff, "after_at": after[0], "after_name": after[1], "batch": batch}
            rows = (await conn.execute(EXPIRED_ROOMS, params)).all()
            names = [r.name for r in rows]
            if names:
                for statement in DELETE_ROOMS:
                    await conn.execute(statement, {"names": names})
        deleted += len(names)
        if len(rows) < batch:
            return deleted
        after = (rows[-1].created_at, rows[-1].name)


async def housekeep(
    engine: AsyncEngine, *, retention_days: int, key_hours: int = 24, now: datetime | None = None, batch: int = 500
) -> Housekept:
    """One pass; returns what it deleted. Rooms and sessions only when `retention_days` is above 0."""
    now = now or datetime.now(UTC)
    done = Housekept()
    done.receipts = await _delete_in_batches(engine, OLD_RECEIPTS, now - timedelta(days=RECEIPT_DAYS), batch)
    done.keys = await _delete_in_batches(engine, OLD_KEYS, now - timedelta(hours=key_hours), batch)
    if retention_days > 0:
        cutoff = now - timedelta(days=retention_days)
        done.rooms = await _delete_rooms(engine, cutoff, batch)
        done.sessions = await _delete_in_batches(engine, ORPHAN_SESSIONS, cutoff, batch)
    logger.info(
        "housekeeping pass",
        extra={"rooms": done.rooms, "sessions": done.sessions, "receipts": done.receipts, "keys": done.keys},
    )
    return done
