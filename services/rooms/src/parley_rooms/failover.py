"""Agent failover: a caller left alone in a room by a lost agent gets the agent dispatched again.

A self-hosted LiveKit server does not hand a job to another worker when the worker that had it is lost
(livekit/agents#1472; LiveKit Cloud does, and resumes the job itself). The caller would wait in a silent
room. The rooms service sees it from LiveKit's webhooks and the session events: an agent left the room
(`participant_left`, kind `agent`), no agent is there any more, the caller still is, the room has not
finished, and the room's latest agent session did not end (or history ended it as `agent_lost`), for
`grace` seconds. An agent that ends its session on purpose sends `session_ended` before it leaves, so it
is never replaced; a `grace` long enough for that event to arrive keeps the race away.

The room is then dispatched the agent again, its metadata naming the lost session (`resumed_from`): the
new agent seeds its LLM with the conversation from history, and history ends the lost session at once.
At most `max_per_room` times per room, once per departure; the room's row, updated under its lock in the
same transaction as the dispatch, keeps two replicas from dispatching twice, and a dispatch LiveKit
refuses or does not answer is tried again at the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from opentelemetry import metrics
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts import AGENT_LOST, utcnow
from parley_contracts.rooms import DISPATCH_RESUMED_FROM
from parley_rooms.ports import LiveKitRejected, LiveKitUnavailable

logger = logging.getLogger(__name__)

Dispatch = Callable[[str, dict[str, object]], Awaitable[None]]

REDISPATCHED = metrics.get_meter("parley.rooms").create_counter(
    "parley.agents.redispatched", description="Agents dispatched again to a caller a lost agent had left"
)

# Rooms an agent left within the last hour (the partial index of migration 0004) that may want another: every
# call's agent leaves its room, so the rooms whose caller left too, that finished, or whose departure was
# handled, are left out here, not claimed one by one every pass. `_CLAIM` checks everything again, locked.
_DEPARTED = text("""
SELECT DISTINCT a.room_name FROM rooms.participants AS a JOIN rooms.rooms AS r ON r.name = a.room_name
WHERE a.kind = 'agent' AND a.left_at > :since AND a.left_at <= :cutoff
  AND r.finished_at IS NULL AND r.erased_at IS NULL AND r.agent_redispatches < :max
  AND a.left_at > COALESCE(r.agent_redispatched_at, '-infinity')
  AND EXISTS (SELECT 1 FROM rooms.participants AS p
              WHERE p.room_name = r.name AND p.kind NOT IN ('agent', 'egress')
                AND p.joined_at IS NOT NULL AND p.left_at IS NULL)
""")

# The room's row is claimed for one dispatch, under its lock, if everything the module docstring lists holds.
_CLAIM = text("""
WITH latest AS (SELECT session_id, ended_at, end_reason FROM rooms.agent_sessions WHERE room_name = :room
                ORDER BY COALESCE(started_at, ended_at) DESC NULLS LAST LIMIT 1),
     departed AS (SELECT max(left_at) AS left_at FROM rooms.participants WHERE room_name = :room AND kind = 'agent')
UPDATE rooms.rooms AS r SET agent_redispatches = r.agent_redispatches + 1, agent_redispatched_at = :now
FROM departed AS d
WHERE r.name = :room AND r.finished_at IS NULL AND r.erased_at IS NULL AND r.agent_redispatches < :max
  AND d.left_at <= :cutoff AND d.left_at > COALESCE(r.agent_redispatched_at, '-infinity')  -- once a departure
  AND NOT EXISTS (SELECT 1 FROM rooms.participants AS p
                  WHERE p.room_name = r.name AND p.kind = 'agent' AND p.left_at IS NULL)
  AND EXISTS (SELECT 1 FROM rooms.participants AS p
              WHERE p.room_name = r.name AND p.kind NOT IN ('agent', 'egress')  -- an egress records, never calls
                AND p.joined_at IS NOT NULL AND p.left_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM latest WHERE ended_at IS NOT NULL AND end_reason <> :lost)
RETURNING r.metadata, (SELECT session_id FROM latest) AS lost_session
""")


async def redispatch_lost_agents(
    engine: AsyncEngine, dispatch: Dispatch, *, grace: timedelta, max_per_room: int, now: datetime | None = None
) -> int:
    """Dispatch the agent again to every room a lost agent left its caller in; how many were dispatched."""
    now = now or utcnow()
    async with engine.connect() as conn:
        params = {"since": now - timedelta(hours=1), "cutoff": now - grace, "max": max_per_room}
        rooms = list((await conn.execute(_DEPARTED, params)).scalars())
    dispatched = 0
    for room in rooms:
        dispatched += await redispatch_room(engine, dispatch, room, grace=grace, max_per_room=max_per_room, now=now)
    return dispatched


async def redispatch_room(
    engine: AsyncEngine, dispatch: Dispatch, room: str, *, grace: timedelta, max_per_room: int, now: datetime
) -> bool:
    """Claim one room and dispatch its agent again, if it still wants one under its row's lock."""
    params = {"room": room, "now": now, "cutoff": now - grace, "max": max_per_room, "lost": AGENT_LOST}
    try:
        async with engine.begin() as conn:
            claimed = (await conn.execute(_CLAIM, params)).first()
            if claimed is None:
                return False
            metadata = dict(claimed.metadata)
            if claimed.lost_session:
                metadata[DISPATCH_RESUMED_FROM] = claimed.lost_session
            await dispatch(room, metadata)  # in the transaction: a failed dispatch is not counted
    except (LiveKitUnavailable, LiveKitRejected) as exc:
        logger.warning("could not dispatch the agent again", extra={"room": room, "error": str(exc)})
        return False
    REDISPATCHED.add(1)
    logger.warning(
        "agent dispatched again to a caller its lost agent had left",
        extra={"room": room, "resumed_from": claimed.lost_session},
    )
    return True
