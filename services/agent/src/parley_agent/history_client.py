"""Ask the history service for a conversation's recent turns (`history.v1.recent`), never waiting long.

No responder, a timeout, an error reply or NATS being down all mean the same thing for the call: start
with an empty history, and say so in the log.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import msgspec
import nats.errors
from livekit.agents import ChatContext

from parley_contracts.history import RecentTurn, RecentTurnsReply, RecentTurnsRequest
from parley_contracts.streams import HISTORY_RECENT_SUBJECT
from parley_runtime.outbox import Outbox

logger = logging.getLogger(__name__)
_reply = msgspec.json.Decoder(RecentTurnsReply)


async def fetch_recent(outbox: Outbox, conversation_id: str, *, limit: int, timeout: float) -> list[RecentTurn]:
    request = msgspec.json.encode(RecentTurnsRequest(conversation_id=conversation_id, limit=limit))
    try:
        async with asyncio.timeout(timeout):
            nc = await outbox.connected()
            msg = await nc.request(HISTORY_RECENT_SUBJECT, request, timeout=timeout)
    except (TimeoutError, nats.errors.TimeoutError):
        logger.warning(
            "history unavailable (timeout): starting with empty history", extra={"conversation_id": conversation_id}
        )
        return []
    except nats.errors.NoRespondersError:
        logger.warning(
            "history unavailable (no responder): starting with empty history",
            extra={"conversation_id": conversation_id},
        )
        return []
    except (nats.errors.Error, OSError) as exc:
        logger.warning(
            "history unavailable: starting with empty history",
            extra={"conversation_id": conversation_id, "error": type(exc).__name__},
        )
        return []
    code = (msg.headers or {}).get("Nats-Service-Error-Code")
    if code:
        logger.warning(
            "history error: starting with empty history", extra={"conversation_id": conversation_id, "code": code}
        )
        return []
    try:
        return _reply.decode(msg.data).turns
    except (msgspec.ValidationError, msgspec.DecodeError):
        logger.warning("history reply unreadable: starting with empty history")
        return []


def seed_context(turns: list[RecentTurn]) -> ChatContext:
    """The prior turns as the agent's initial chat context (the LLM sees them before the new turn)."""
    ctx = ChatContext()
    for t in turns:
        at: datetime = t.at
        ctx.add_message(role=t.role, content=t.text, created_at=at.timestamp(), id=f"history_{t.session_id}_{t.seq}")
    return ctx
