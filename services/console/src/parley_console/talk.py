"""Starting a call from the console: a room from rooms (the same API as every client), then either a join token
for the person's browser (a LiveKit server is configured) or a simulated call on the agent (none is: `make dev`).

No LiveKit secret ever reaches the browser: rooms mints the token with the console's key. A simulated call's
lines go to an agent in simulate mode (`agent.v1.simulate`), whose synthesized caller speaks them.
"""

from __future__ import annotations

from typing import Annotated, Protocol

import msgspec

from parley_console.upstream import Json, Platform
from parley_contracts.simulation import SIMULATE_MAX_LINES, Line, SimulateCallRequest
from parley_runtime.web.http import NO_NUL

TOKEN_TTL_SECONDS = 3600


class NewCall(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Who calls, and how the agent should behave (the room's instructions and language)."""

    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=NO_NUL)]
    instructions: Annotated[str, msgspec.Meta(max_length=8000, pattern=NO_NUL)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16, pattern=r"^[A-Za-z-]*$")] | None = None


class NewSimulatedCall(NewCall, forbid_unknown_fields=True, kw_only=True):
    lines: Annotated[list[Line], msgspec.Meta(min_length=1, max_length=SIMULATE_MAX_LINES)]


class Joining(msgspec.Struct):
    room: str
    conversation_id: str
    url: str  # the LiveKit server, as the browser reaches it
    token: str
    identity: str


class Simulating(msgspec.Struct):
    room: str
    conversation_id: str


class SimulatingAgent(Protocol):
    async def simulate(self, request: SimulateCallRequest) -> None:
        """Hand the call to an agent in simulate mode; raises `NoAgent` when none takes it."""


class NoAgent(Exception):
    """No agent in simulate mode answered: the person is told to start one (`make dev` runs it)."""


def _room_body(call: NewCall) -> Json:
    body: Json = {"user_id": call.user_id}
    if call.instructions:
        body["instructions"] = call.instructions
    if call.language:
        body["language"] = call.language
    return body


async def join(platform: Platform, call: NewCall, *, livekit_url: str) -> Joining:
    """A room for the call and the person's token to it (their identity is the caller's user id)."""
    room = await platform.create_room(_room_body(call))
    token = await platform.token(
        room["name"], {"identity": call.user_id, "name": call.user_id, "ttl_seconds": TOKEN_TTL_SECONDS}
    )
    return Joining(room["name"], room["conversation_id"], livekit_url, token["token"], call.user_id)


async def simulate(platform: Platform, agent: SimulatingAgent, call: NewSimulatedCall) -> Simulating:
    """A room for the call, taken by an agent in simulate mode whose caller says `lines`. A room no agent took is
    closed again, so it does not count against the caller's limit."""
    room = await platform.create_room(_room_body(call))
    request = SimulateCallRequest(
        room=room["name"], conversation_id=room["conversation_id"], metadata=room.get("metadata") or {},
        lines=list(call.lines),
    )  # fmt: skip
    try:
        await agent.simulate(request)
    except NoAgent:
        await platform.end_room(room["name"])
        raise
    return Simulating(room["name"], room["conversation_id"])
