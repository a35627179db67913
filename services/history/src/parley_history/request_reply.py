"""History's request/reply service over NATS: `history.v1.recent` (a conversation's recent turns, for the
agent) and `history.v1.session_turns` (a session's earlier turns, for recordings' transcripts).

A nats.micro service in queue group `history`, so every replica answers a share of the requests.
Bad requests get a 400 service error, a store failure a 500; a query never runs longer than
`timeout` seconds, so the caller always gets an answer before its own deadline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Handler, Request
from nats.micro.service import Service
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import parley_contracts as c
from parley_contracts.history import (
    SESSION_TURNS_REPLY_BYTES,
    RecentTurn,
    RecentTurnsReply,
    RecentTurnsRequest,
    SessionTurnsReply,
    SessionTurnsRequest,
)
from parley_contracts.streams import HISTORY_RECENT_SUBJECT, HISTORY_SESSION_TURNS_SUBJECT
from parley_history.queries import Turn, recent_turns, turns_before, user_recent_turns
from parley_runtime.messaging.connection import subscriptions_confirmed

logger = logging.getLogger(__name__)
Q = TypeVar("Q")

_encoder = msgspec.json.Encoder()


def _endpoint(
    request_type: type[Q], answer: Callable[[AsyncConnection, Q], Awaitable[Any]], engine: AsyncEngine, timeout: float
) -> Handler:
    decoder = msgspec.json.Decoder(request_type)

    async def handle(request: Request) -> None:
        try:
            req = decoder.decode(request.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            await request.respond_error("400", f"invalid request: {exc}")
            return
        try:
            async with asyncio.timeout(timeout), engine.connect() as conn:
                reply = await answer(conn, req)
        except MissingUser as exc:
            await request.respond_error("400", f"invalid request: {exc}")
            return
        except Exception as exc:
            extra = {"subject": request.subject, "error": type(exc).__name__}
            logger.warning("history request unanswered", extra=extra)
            await request.respond_error("500", "history store unavailable")
            return
        await request.respond(_encoder.encode(reply), headers={"content-type": "application/json"})

    return handle


def _wire(t: Turn) -> RecentTurn:
    return RecentTurn(
        session_id=t.session_id, seq=t.seq, role=t.role, text=t.text, at=t.occurred_at,
        interrupted=t.interrupted, conversation_id=t.conversation_id,
    )  # fmt: skip


class MissingUser(ValueError):
    """A request for a user's turns that names no user."""


async def _recent(conn: AsyncConnection, req: RecentTurnsRequest) -> RecentTurnsReply:
    if req.scope == "user":
        if req.user_id is None:
            raise MissingUser("scope user needs a user_id")
        turns = await user_recent_turns(conn, req.user_id, req.limit)
    else:
        turns = await recent_turns(conn, req.conversation_id, req.limit)
    return RecentTurnsReply(conversation_id=req.conversation_id, turns=[_wire(t) for t in turns])


async def _session_turns(conn: AsyncConnection, req: SessionTurnsRequest) -> SessionTurnsReply:
    # Each turn costs at least 120 bytes of the budget (newest_that_fit), so this many rows always suffice.
    newest_first = await turns_before(conn, req.session_id, req.before_seq, SESSION_TURNS_REPLY_BYTES // 120 + 1)
    turns = newest_first[::-1]
    kept = turns[len(turns) - c.newest_that_fit([t.text for t in turns], SESSION_TURNS_REPLY_BYTES) :]
    return SessionTurnsReply(session_id=req.session_id, turns=[_wire(t) for t in kept])


async def start_request_service(nc: Client, engine: AsyncEngine, *, version: str, timeout: float) -> Service:
    service = await add_service(
        nc, name="history", version=version, description="Turns from history: recent ones, a session's earlier ones"
    )
    group_name, _, recent = HISTORY_RECENT_SUBJECT.rpartition(".")
    _, _, session_turns = HISTORY_SESSION_TURNS_SUBJECT.rpartition(".")
    group = service.add_group(name=group_name, queue_group="history")
    await group.add_endpoint(name=recent, handler=_endpoint(RecentTurnsRequest, _recent, engine, timeout))
    await group.add_endpoint(
        name=session_turns, handler=_endpoint(SessionTurnsRequest, _session_turns, engine, timeout)
    )
    await subscriptions_confirmed(nc)  # the subscriptions must reach the server before we report ready
    return service
