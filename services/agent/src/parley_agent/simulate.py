"""Run scripted conversations through the real job lifecycle, headless (no LiveKit server, no keys).

Each conversation is a fake job (`AgentServer.simulate_job(fake_job=True)`) whose room metadata carries
the conversation id and the caller's lines: the same entrypoint, session, tracker, recorder and outbox
as production. `make dev` runs this when no LiveKit server is configured, so a newcomer sees
conversations flow through the whole platform.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass

from livekit.agents import AgentServer
from livekit.protocol import models

from parley_agent import worker
from parley_contracts.rooms import DISPATCH_RESUMED_FROM

logger = logging.getLogger(__name__)

SCRIPTS: list[list[str]] = [
    ["Hi, this is Ada. I need to move my dentist appointment.", "Can you book Friday morning instead?", "Thanks, bye!"],
    ["Hello, what are your opening hours on Saturday?", "And is parking free there?", "Great, thank you."],
    ["I'd like to cancel my subscription.", "It's the premium plan, account ending 42.", "Yes, please confirm."],
]
# The first script's room has a second agent, which its caller gets handed to (`agent_handoff.v1`).
AGENTS = {
    "booking": {
        "instructions": "You book, move and cancel appointments. Confirm the day and time back to the caller.",
        "description": "books, moves and cancels appointments",
    }
}


@dataclass(frozen=True)
class SimulatedCall:
    room: str
    conversation_id: str
    user_id: str
    lines: list[str]

    agents: dict[str, dict[str, str]] | None = None
    resumed_from: str | None = None  # the lost session this call takes over, as rooms' re-dispatch names it

    def metadata(self) -> str:
        data: dict[str, object] = {"conversation_id": self.conversation_id, "user_id": self.user_id}
        if self.agents:
            data["agents"] = self.agents
        if self.resumed_from:
            data["dispatch"] = json.dumps({DISPATCH_RESUMED_FROM: self.resumed_from})
        return json.dumps({**data, "simulation": self.lines})


def plan_calls(
    n: int,
    *,
    conversation_ids: list[str] | None = None,
    rooms: list[str] | None = None,
    resumed_from: str | None = None,
    lines: list[str] | None = None,
) -> list[SimulatedCall]:
    """`n` calls, each with its conversation and room (given, or new ones) and the caller's lines (`lines`, or
    one of the scripts in turn)."""
    calls = []
    for i in range(n):
        conversation = conversation_ids[i] if conversation_ids and i < len(conversation_ids) else str(uuid.uuid4())
        room = rooms[i] if rooms and i < len(rooms) else f"sim-{uuid.uuid4().hex[:8]}"
        calls.append(
            SimulatedCall(
                room=room,
                conversation_id=conversation,
                user_id=f"sim-user-{i % 3}",
                lines=lines or SCRIPTS[i % len(SCRIPTS)],
                agents=AGENTS if i % len(SCRIPTS) == 0 and not lines else None,
                resumed_from=resumed_from,
            )
        )
    return calls


async def run_simulated_calls(server: AgentServer, calls: list[SimulatedCall], *, timeout: float = 120) -> None:
    """Dispatch the calls to a running simulate-mode server and wait until every job has finished."""
    for call in calls:
        info = models.Room(sid=f"RM_{call.room}", name=call.room, metadata=call.metadata())
        await server.simulate_job(call.room, fake_job=True, room_info=info)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(0.5)
    while worker._calls or server.active_jobs:
        if loop.time() > deadline:
            raise TimeoutError("simulated calls did not finish in time")
        await asyncio.sleep(0.1)
    logger.info("simulated calls finished", extra={"count": len(calls)})
