"""Erasure on request in rooms: scrub a conversation's rooms of personal data and retire its id.

On `conversation_erased.v1` (published by history), in one transaction under each conversation's lock:
* the id is recorded in `rooms.erasures`, so no room is created for it again (the API answers 409);
* its rooms lose their user id, their metadata (what the agent read: instructions, user id, language),
  their participants' identities and their idempotency keys (a hash of the request body), and get
  `erased_at`. What stays is operational: the room's name, sid, times, status and agent sessions.

The lock closes two races. A room created while the erasure runs: creation takes the same lock and looks
for the tombstone, so it either committed first (and is scrubbed here) or sees the tombstone. A
participant webhook applied meanwhile: it locks the room's row (`store.get_room(lock=True)`), so it either
committed first (its participant is deleted here) or sees `erased_at` and stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from parley_rooms.models import erasures, idempotency_keys, participants, rooms
from parley_rooms.ports import ScrubbedRoom

logger = logging.getLogger(__name__)

LOCK_SEED = 0x726F6F6D  # "room": rooms' own lock space, apart from history's
LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:id, :seed))")


async def is_erased(conn: AsyncConnection, conversation_id: str) -> bool:
    found = await conn.execute(select(erasures.c.conversation_id).where(erasures.c.conversation_id == conversation_id))
    return found.first() is not None


async def _lock(conn: AsyncConnection, conversation_id: str) -> None:
    await conn.execute(LOCK, {"id": conversation_id, "seed": LOCK_SEED})


async def hold_conversation(conn: AsyncConnection, conversation_id: str) -> bool:
    """Lock the conversation id until the transaction ends; True when it was erased."""
    await _lock(conn, conversation_id)
    return await is_erased(conn, conversation_id)


async def erase_conversations(
    conn: AsyncConnection, conversation_ids: Iterable[str], now: datetime
) -> list[ScrubbedRoom]:
    """Scrub the conversations' rooms and retire their ids; returns the rooms scrubbed, by name."""
    ids = sorted(set(conversation_ids))  # locks in one order: concurrent batches cannot deadlock
    if not ids:
        return []
    for conversation_id in ids:
        await _lock(conn, conversation_id)
    await conn.execute(
        insert(erasures).values([{"conversation_id": i, "erased_at": now} for i in ids]).on_conflict_do_nothing()
    )
    result = await conn.execute(
        rooms.update()
        .where(rooms.c.conversation_id.in_(ids))
        .values(user_id=None, metadata={}, erased_at=func.coalesce(rooms.c.erased_at, now))
        .returning(rooms.c.name, rooms.c.conversation_id, rooms.c.finished_at)
    )
    scrubbed = sorted(
        (ScrubbedRoom(r.name, r.conversation_id, r.finished_at is not None) for r in result), key=lambda r: r.name
    )
    if names := [r.name for r in scrubbed]:
        await conn.execute(participants.delete().where(participants.c.room_name.in_(names)))
        await conn.execute(idempotency_keys.delete().where(idempotency_keys.c.room_name.in_(names)))
    logger.info("conversations erased", extra={"conversations": len(ids), "rooms": len(scrubbed)})
    return scrubbed
