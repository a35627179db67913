"""Room status from the agent's session events (the `rooms` consumer), independent of NATS.

Each event contributes facts about its session (room, start, end); facts are merged with COALESCE, so
duplicates and any arrival order end in the same state, and a room's status is derived from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts import AnyEvent, SessionEnded, SessionStarted
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


async def apply_session_events(events: Sequence[AnyEvent], engine: AsyncEngine) -> None:
    facts = session_facts(events)
    if facts:
        async with engine.begin() as conn:
            await merge_session(conn, facts)
