"""Sessions whose agent was lost: history ends them with a `session_ended.v1` of its own.

An agent killed outright (SIGKILL, OOM, a lost node) never sends `session_ended`. Every turn it emitted is
in history, but the session would stay open for good and recordings would never write its transcript.
Once nothing of an open session has arrived for `timeout` (its row is older, and no turn is dated later),
history publishes the end the agent could not: reason `agent_lost`, the turns it holds as the messages,
ended at the last turn. It goes through the stream like any end: history stores it, recordings writes the
transcript (not the audio, which died with the process), rooms closes the agent session. The event id is
derived from the session, so replicas that find the same session publish one event (JetStream drops the
copies, and every consumer is idempotent anyway). Should the agent's own end still turn up (replayed from
a spill file), it replaces this one in history (`store.END_SESSIONS`), rooms and recordings alike.

A session that a later session names as `resumed_from` needs no waiting: LiveKit gave its job to another
worker because it had lost this one's. It is ended the same way at the next pass, which storing the
resuming session brings forward (`SqlHistoryStore.on_resumed`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
from opentelemetry import metrics
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_history.db import driver_connection

logger = logging.getLogger(__name__)

PRODUCER = "history"

# Open sessions (the partial index of migration 0007) that reached history before the cutoff, with no turn
# dated after it, or that a later attempt at their job resumed (migration 0008). (An erased conversation
# has no sessions left; an end published for one that is erased meanwhile is dropped by every consumer, as
# any late event of it.)
SILENT_OPEN = """
SELECT s.id, s.conversation_id, COALESCE(s.started_at, s.received_at) AS started_at
FROM history.sessions AS s
WHERE s.ended_at IS NULL
  AND ((s.received_at < $1
        AND NOT EXISTS (SELECT 1 FROM history.turns AS t WHERE t.session_id = s.id AND t.occurred_at >= $1))
       OR EXISTS (SELECT 1 FROM history.sessions AS r  -- of the same conversation: no other can end it
                  WHERE r.resumed_from = s.id AND r.conversation_id = s.conversation_id))
ORDER BY s.received_at
LIMIT $2
"""
TURNS = "SELECT seq, role, text, occurred_at FROM history.turns WHERE session_id = $1 ORDER BY seq"

Publish = Callable[[c.SessionEnded], Awaitable[None]]

# Agents lost mid-call (OOM kills, lost nodes) show here; the chart's ParleyAgentsLost alert watches it.
LOST = metrics.get_meter("parley.history").create_counter(
    "parley.sessions.lost", description="Sessions whose agent was lost, ended by history"
)


def lost_session_end(session: asyncpg.Record, turns: list[asyncpg.Record]) -> c.SessionEnded:
    started: datetime = session["started_at"]
    ended = max([started, *(t["occurred_at"] for t in turns)])
    kept = turns[len(turns) - c.newest_that_fit([t["text"] for t in turns]) :]  # as the agent's own summary
    messages = [c.MessageSummary(seq=t["seq"], role=t["role"], text=t["text"], at=t["occurred_at"]) for t in kept]
    return c.SessionEnded(
        event_id=c.derived_event_id(f"{c.AGENT_LOST}:{session['id']}", ended),  # one event, whoever finds it
        occurred_at=ended,  # not now: the conversation's last activity stays its last turn
        conversation_id=session["conversation_id"],
        producer=PRODUCER,
        session_id=session["id"],
        reason=c.AGENT_LOST,
        started_at=started,
        ended_at=ended,
        duration_seconds=(ended - started).total_seconds(),
        turn_count=len(turns),
        messages=messages,
        messages_truncated=len(messages) < len(turns),
    )


async def end_lost_sessions(
    engine: AsyncEngine, publish: Publish, *, timeout: timedelta, limit: int = 100, now: datetime | None = None
) -> int:
    """Publish the end of up to `limit` sessions silent for `timeout`; how many. History's own consumer then
    stores each end, which takes the session out of the next round."""
    cutoff = (now or c.utcnow()) - timeout
    async with driver_connection(engine) as conn:
        sessions = await conn.fetch(SILENT_OPEN, cutoff, limit)
        ends = [lost_session_end(s, list(await conn.fetch(TURNS, s["id"]))) for s in sessions]
    for end in ends:
        await publish(end)
        LOST.add(1)
        logger.warning(
            "session ended for its lost agent",
            extra={"session_id": end.session_id, "conversation_id": end.conversation_id, "turns": end.turn_count},
        )
    return len(ends)
