"""What the `rooms` consumer does with its events, independent of NATS: room status and erasures.

Each session event contributes facts about its session (room, start, end); facts are merged with COALESCE,
so duplicates and any arrival order end in the same state, and a room's status is derived from them.
`conversation_erased` scrubs the conversation's rooms (`erasure`); applying it again changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts import AGENT_LOST, AnyEvent, ConversationErased, SessionEnded, SessionStarted
from parley_rooms.erasure import ScrubbedRoom, erase_conversations
from parley_rooms.store import merge_session

logger = logging.getLogger(__name__)

# Replace a room's metadata in LiveKit (the gateway's `replace_metadata`).
ReplaceMetadata = Callable[[str, dict[str, object]], Awaitable[None]]


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
        elif event.reason == AGENT_LOST and fact["end_reason"] not in (None, AGENT_LOST):
            continue  # history's end for a lost agent never replaces the agent's own (nor in SESSION_UPSERT)
        else:
            fact["started_at"] = fact["started_at"] or event.started_at
            fact["ended_at"] = event.ended_at
            fact["end_reason"] = event.reason
            fact["duration"] = event.duration_seconds
    return list(facts.values())


async def apply_events(
    events: Sequence[AnyEvent], engine: AsyncEngine, replace_metadata: ReplaceMetadata | None = None
) -> None:
    """Apply a batch in one transaction: session facts merged, erased conversations scrubbed.

    After the commit, an erased room that may still be live in LiveKit gets its metadata replaced by the
    conversation id alone (`replace_metadata`), best effort: LiveKit drops it when the room closes anyway.
    """
    facts = session_facts(events)
    erased = [e.conversation_id for e in events if isinstance(e, ConversationErased)]
    scrubbed: list[ScrubbedRoom] = []
    if facts or erased:
        async with engine.begin() as conn:
            if facts:
                await merge_session(conn, facts)
            scrubbed = await erase_conversations(conn, erased, datetime.now(UTC))
    if replace_metadata is None:
        return
    for room in scrubbed:
        if room.finished:
            continue
        try:
            # What a re-dispatched agent reads stays.
            await replace_metadata(room.name, {"conversation_id": room.conversation_id})
        except Exception as exc:
            logger.warning("could not scrub the live room's metadata", extra={"room": room.name, "error": repr(exc)})
