"""`history.v1.recent`: the agent asks for a conversation's recent turns over NATS request/reply.

A nats.micro service in queue group `history`, so every replica answers a share of the requests.
Bad requests get a 400 service error, a store failure a 500; a query never runs longer than
`timeout` seconds, so the caller always gets an answer before its own deadline.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from nats.aio.client import Client
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts.history import RecentTurn, RecentTurnsReply, RecentTurnsRequest
from parley_contracts.streams import HISTORY_RECENT_SUBJECT
from parley_history.queries import recent_turns
from parley_runtime.connection import subscriptions_confirmed

logger = logging.getLogger(__name__)

_decoder = msgspec.json.Decoder(RecentTurnsRequest)
_encoder = msgspec.json.Encoder()


def make_handler(engine: AsyncEngine, timeout: float):  # type: ignore[no-untyped-def]
    async def handle(request: Request) -> None:
        try:
            req = _decoder.decode(request.data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            await request.respond_error("400", f"invalid request: {exc}")
            return
        try:
            async with asyncio.timeout(timeout), engine.connect() as conn:
                turns = await recent_turns(conn, req.conversation_id, req.limit)
        except Exception as exc:
            logger.warning("recent turns unavailable", extra={"error": type(exc).__name__})
            await request.respond_error("500", "history store unavailable")
            return
        reply = RecentTurnsReply(
            conversation_id=req.conversation_id,
            turns=[
                RecentTurn(
                    session_id=t.session_id,
                    seq=t.seq,
                    role=t.role,
                    text=t.text,
                    at=t.ended_at or t.occurred_at,
                    interrupted=t.interrupted,
                )
                for t in turns
            ],
        )
        await request.respond(_encoder.encode(reply), headers={"content-type": "application/json"})

    return handle


async def start_recent_service(nc: Client, engine: AsyncEngine, *, version: str, timeout: float) -> Service:
    group, _, endpoint = HISTORY_RECENT_SUBJECT.rpartition(".")
    service = await add_service(
        nc, name="history", version=version, description="Recent turns of a conversation, for the agent"
    )
    await service.add_group(name=group, queue_group="history").add_endpoint(
        name=endpoint, handler=make_handler(engine, timeout)
    )
    await subscriptions_confirmed(nc)  # the subscription must reach the server before we report ready
    return service
