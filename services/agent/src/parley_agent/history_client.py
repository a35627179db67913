"""What the agent is given from history at a call's start, never waiting long for it.

Three kinds of call:
* a new call of a conversation: its recent turns (`history.v1.recent`);
* a call whose room asks for the user's memory (`memory: user`): the user's recent turns across all their
  conversations;
* a call that takes over from a lost agent (`resumed_from`): every stored turn of the interrupted session
  (`history.v1.session_turns`, page by page) and the conversation's turns before it, so the new agent can pick
  up where the call was cut.

No responder, a timeout, an error reply or NATS being down (`parley_runtime.messaging.request.Unanswered`) all
mean the same for the call: it starts with what arrived, says so in `session_started.history_preload`, and the
outcome is counted (`parley_history_preload_total`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from livekit.agents import ChatContext
from nats.aio.client import Client
from opentelemetry import metrics

import parley_contracts as c
from parley_contracts.history import (
    RecentTurn,
    RecentTurnsReply,
    RecentTurnsRequest,
    SessionTurnsReply,
    SessionTurnsRequest,
)
from parley_contracts.streams import HISTORY_RECENT_SUBJECT, HISTORY_SESSION_TURNS_SUBJECT
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.messaging.request import Unanswered, ask

logger = logging.getLogger(__name__)

PRELOADS = metrics.get_meter("parley.agent").create_counter(
    "parley.history.preload", description="History asked at a call's start, by outcome"
)
# Above any seq a session reaches: `session_turns` below it is the whole session.
_WHOLE_SESSION = 2**31 - 1


@dataclass(frozen=True)
class Preload:
    turns: list[RecentTurn]
    outcome: c.HistoryPreload

    @property
    def loaded(self) -> int:
        return len(self.turns)


async def preload(
    outbox: Outbox,
    conversation_id: str,
    *,
    limit: int,
    timeout: float,
    memory: Literal["conversation", "user"] = "conversation",
    user_id: str | None = None,
    resumed_from: str | None = None,
) -> Preload:
    """The turns to seed the call with, oldest first, within `timeout` seconds (NATS's connection included)."""
    if limit == 0 and resumed_from is None:  # AGENT_HISTORY_LIMIT=0: every call starts afresh
        return _counted(Preload([], "off"))
    scope: Literal["conversation", "user"] = "user" if memory == "user" and user_id else "conversation"
    request = RecentTurnsRequest(conversation_id=conversation_id, limit=max(limit, 1), scope=scope, user_id=user_id)
    try:
        async with asyncio.timeout(timeout):
            nc = await outbox.connected()
            recent = (await ask(nc, HISTORY_RECENT_SUBJECT, request, RecentTurnsReply, timeout=timeout)).turns
            if resumed_from is not None:
                recent = _with_session(recent, await _session_turns(nc, resumed_from, timeout))
    except TimeoutError:
        return _counted(Preload([], "timeout"), conversation_id)
    except Unanswered as exc:
        return _counted(Preload([], "unavailable"), conversation_id, str(exc))
    return _counted(Preload(recent, "loaded" if recent else "empty"))


async def _session_turns(nc: Client, session_id: str, timeout: float) -> list[RecentTurn]:
    """Every stored turn of a session, oldest first (a reply holds at most 256 kB: ask again below it)."""
    turns: list[RecentTurn] = []
    before = _WHOLE_SESSION
    while True:
        request = SessionTurnsRequest(session_id=session_id, before_seq=before)
        page = (await ask(nc, HISTORY_SESSION_TURNS_SUBJECT, request, SessionTurnsReply, timeout=timeout)).turns
        if not page:
            return turns
        turns[:0] = page
        before = page[0].seq


def _with_session(recent: list[RecentTurn], session: list[RecentTurn]) -> list[RecentTurn]:
    """The interrupted session whole, after the conversation's turns from before it."""
    ids = {t.session_id for t in session}
    start = min((t.at for t in session), default=None)
    earlier = [t for t in recent if t.session_id not in ids and (start is None or t.at <= start)]
    return [*earlier, *session]


def _counted(result: Preload, conversation_id: str | None = None, why: str | None = None) -> Preload:
    PRELOADS.add(1, {"outcome": result.outcome})
    if result.outcome in ("timeout", "unavailable"):
        logger.warning(
            "history unavailable: starting with empty history",
            extra={"conversation_id": conversation_id, "why": why or result.outcome},
        )
    return result


def seed_context(turns: list[RecentTurn]) -> ChatContext:
    """The prior turns as the agent's initial chat context (the LLM sees them before the new turn)."""
    ctx = ChatContext()
    for t in turns:
        at: datetime = t.at
        ctx.add_message(role=t.role, content=t.text, created_at=at.timestamp(), id=f"history_{t.session_id}_{t.seq}")
    return ctx
