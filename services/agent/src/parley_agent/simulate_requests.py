"""Simulated calls on request: in simulate mode the agent takes `agent.v1.simulate` (from the console's
"simulated call"), one agent per request (a queue group), and runs each through the real job path.

The request's lines become the caller's (text only, so the synthesized caller speaks them with the local
providers); the room's metadata, as rooms wrote it, carries the conversation, user, instructions and language,
exactly as a dispatched job reads them. A bad request gets a 400 service error, never a call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from parley_contracts.simulation import AGENT_SIMULATE_SUBJECT, SimulateCallReply, SimulateCallRequest

logger = logging.getLogger(__name__)
QUEUE = "agents"
# Keys of a room's metadata a request may not set: a script of its own (files among its lines) and the
# markers of a re-dispatch, which only rooms' failover writes.
RESERVED = ("simulation", "dispatch")

StartJob = Callable[[str, str], Awaitable[None]]  # (room name, the room's metadata as JSON)
_decoder = msgspec.json.Decoder(SimulateCallRequest)


def job_metadata(request: SimulateCallRequest) -> str:
    """The room metadata the simulated job reads: the room's own, its conversation, and the caller's lines."""
    data: dict[str, Any] = {k: v for k, v in request.metadata.items() if k not in RESERVED}
    data["conversation_id"] = request.conversation_id
    data["simulation"] = list(request.lines)
    return json.dumps(data)


async def answer(msg: Msg, start: StartJob) -> None:
    try:
        request = _decoder.decode(msg.data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        await _error(msg, "400", f"invalid request: {exc}")
        return
    try:
        await start(request.room, job_metadata(request))
    except Exception as exc:  # the worker could not take the job: say so, the caller shows it
        logger.warning("simulated call refused", extra={"room": request.room, "error": type(exc).__name__})
        await _error(msg, "503", f"the agent could not start the call: {type(exc).__name__}")
        return
    logger.info("simulated call started", extra={"room": request.room, "conversation_id": request.conversation_id})
    reply = SimulateCallReply(room=request.room, conversation_id=request.conversation_id)
    await msg.respond(msgspec.json.encode(reply))


async def _error(msg: Msg, code: str, description: str) -> None:
    if msg.reply:
        headers = {"Nats-Service-Error-Code": code, "Nats-Service-Error": description}
        await msg._client.publish(msg.reply, b"", headers=headers)


async def take_simulation_requests(nc: Client, start: StartJob) -> Subscription:
    async def handle(msg: Msg) -> None:
        await answer(msg, start)

    return await nc.subscribe(AGENT_SIMULATE_SUBJECT, queue=QUEUE, cb=handle)
