"""What the `rooms` consumer does with its events, independent of NATS: room status and erasures.

Each session event contributes facts about its session (room, start, end); facts are merged with COALESCE,
so duplicates and any arrival order end in the same state, and a room's status is derived from them.
`conversation_erased` scrubs the conversation's rooms (`erasure`); applying it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts import AnyEvent, ConversationErased, SessionEnded, SessionStarted
from parley_rooms.erasure import erase_conversations
from parley_rooms.store import merge_session


def session_facts(events: Sequence[AnyEvent]) -> list[dict[str, Any]]:
    facts: dict[str, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, SessionStarted | SessionEnded):
            continue
        fact = facts.setdefault(
            event.session_id,
            {
                "session_id": event.session_id,
                "room_name": None,
                "conversation_id": event.conversation_id,
                "started_at": None,
                "ended_at": None,
                "end_reason": None,
                "duration": None,
            },
        )
        if isinstance(event, SessionStarted):
            fact["room_name"] = event.room_name
            fact["started_at"] = event.started_at
        else:
            fact["started_at"] = fact["started_at"] or event.started_at
            fact["ended_at"] = event.ended_at
            fact["end_reason"] = event.reason
            fact["duration"] = event.duration_seconds
    return list(facts.values())


async def apply_events(events: Sequence[AnyEvent], engine: AsyncEngine) -> None:
    """Apply a batch in one transaction: session facts merged, erased conversations scrubbed."""
    facts = session_facts(events)
    erased = [e.conversation_id for e in events if isinstance(e, ConversationErased)]
    if facts or erased:
        async with engine.begin() as conn:
            if facts:
                await merge_session(conn, facts)
            await erase_conversations(conn, erased, datetime.now(UTC))
