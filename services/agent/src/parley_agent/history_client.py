"""Ask the history service for a conversation's recent turns (`history.v1.recent`), never waiting long.

No responder, a timeout, an error reply or NATS being down (`parley_runtime.request.Unanswered`) all mean
the same thing for the call: start with an empty history, and say so in the log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from livekit.agents import ChatContext

from parley_contracts.history import RecentTurn, RecentTurnsReply, RecentTurnsRequest
from parley_contracts.streams import HISTORY_RECENT_SUBJECT
from parley_runtime.outbox import Outbox
from parley_runtime.request import Unanswered, ask

logger = logging.getLogger(__name__)


async def fetch_recent(outbox: Outbox, conversation_id: str, *, limit: int, timeout: float) -> list[RecentTurn]:
    if limit == 0:  # AGENT_HISTORY_LIMIT=0: every call starts afresh
        return []
    request = RecentTurnsRequest(conversation_id=conversation_id, limit=limit)
    try:
        async with asyncio.timeout(timeout):  # waiting for the connection included
            nc = await outbox.connected()
            reply = await ask(nc, HISTORY_RECENT_SUBJECT, request, RecentTurnsReply, timeout=timeout)
    except TimeoutError:
        why = "timeout"
    except Unanswered as exc:
        why = str(exc)
    else:
        return reply.turns
    logger.warning(
        "history unavailable: starting with empty history", extra={"conversation_id": conversation_id, "why": why}
    )
    return []


def seed_context(turns: list[RecentTurn]) -> ChatContext:
    """The prior turns as the agent's initial chat context (the LLM sees them before the new turn)."""
    ctx = ChatContext()
    for t in turns:
        at: datetime = t.at
        ctx.add_message(role=t.role, content=t.text, created_at=at.timestamp(), id=f"history_{t.session_id}_{t.seq}")
    return ctx
