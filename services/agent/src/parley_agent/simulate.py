"""Run simulated calls through the real job lifecycle, headless (no LiveKit server, no keys).

Each call is a fake job (`AgentServer.simulate_job(fake_job=True)`) whose room metadata carries the
conversation id and what the caller says: the same entrypoint, session, tracker, recorder and outbox as
production. With the local providers the caller speaks (`simulated_call`). `make dev` runs this when no LiveKit
server is configured, so a newcomer sees and hears conversations flow through the whole platform.

`python -m parley_agent simulate --providers local --say "..."` is also how a person makes a call by hand: it
connects to the stack in the environment (`.parley/stack.env` after `make dev`) and prints
`conversation <id>` once the call has ended and its events are published.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from livekit.agents import AgentServer
from livekit.protocol import models

from parley_agent import worker
from parley_contracts.rooms import DISPATCH_RESUMED_FROM

logger = logging.getLogger(__name__)

SCRIPTS: list[list[str | dict[str, str]]] = [
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
    lines: list[str | dict[str, str]]

    agents: dict[str, dict[str, str]] | None = None
    resumed_from: str | None = None  # the lost session this call takes over, as rooms' re-dispatch names it
    barge_in: bool = False

    def metadata(self) -> str:
        data: dict[str, object] = {"conversation_id": self.conversation_id, "user_id": self.user_id}
        if self.agents:
            data["agents"] = self.agents
        if self.resumed_from:
            data["dispatch"] = json.dumps({DISPATCH_RESUMED_FROM: self.resumed_from})
        if self.barge_in:
            data["barge_in"] = True
        return json.dumps({**data, "simulation": self.lines})


def plan_calls(
    n: int,
    *,
    conversation_ids: list[str] | None = None,
    rooms: list[str] | None = None,
    resumed_from: str | None = None,
    lines: list[str | dict[str, str]] | None = None,
    user_id: str | None = None,
    barge_in: bool = False,
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
                user_id=user_id or f"sim-user-{i % 3}",
                lines=lines or SCRIPTS[i % len(SCRIPTS)],
                agents=AGENTS if i % len(SCRIPTS) == 0 and not lines else None,
                resumed_from=resumed_from,
                barge_in=barge_in,
            )
        )
    return calls


async def run_simulated_calls(
    server: AgentServer, calls: list[SimulatedCall], *, timeout: float = 120
) -> list[SimulatedCall]:
    """Dispatch the calls to a running simulate-mode server, wait until every job has finished, and return the
    calls that ended as calls do (a job that failed before its call began is left out)."""
    for call in calls:
        await start_simulated_job(server, call.room, call.metadata())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # `simulate_job` returns once each job is on a process, so the jobs are already in `active_jobs` here.
    while worker._calls or server.active_jobs:
        if loop.time() > deadline:
            raise TimeoutError("simulated calls did not finish in time")
        await asyncio.sleep(0.1)
    ended = [call for call in calls if call.room in worker.ended_rooms]
    logger.info("simulated calls finished", extra={"count": len(calls), "ended": len(ended)})
    return ended


async def start_simulated_job(server: AgentServer, room: str, metadata: str) -> None:
    """One simulated call in `room` whose metadata is `metadata` (JSON, as a dispatched job reads it)."""
    info = models.Room(sid=f"RM_{room}", name=room, metadata=metadata)
    await server.simulate_job(room, fake_job=True, room_info=info)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 0 or more")
    return int(text)


def _wav(text: str) -> dict[str, str]:
    path = Path(text).resolve()
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return {"wav": str(path)}


def add_simulate_arguments(sim: argparse.ArgumentParser) -> None:
    sim.add_argument("-n", "--conversations", type=_count, default=None,
                     help="how many calls (default 3, or 1 with --say)")  # fmt: skip
    sim.add_argument("--exit", action="store_true", help="exit when the calls are done")
    sim.add_argument("--providers", choices=("offline", "local"), help="typed lines (offline) or speech (local)")
    sim.add_argument("--say", dest="utterances", action="append", default=[], metavar="TEXT",
                     help="what the caller says, one utterance each (repeat)")  # fmt: skip
    sim.add_argument("--caller-wav", dest="utterances", action="append", type=_wav, metavar="FILE",
                     help="a mono PCM WAV the caller plays as one utterance (repeat; local providers)")  # fmt: skip
    sim.add_argument("--barge-in", action="store_true", help="the caller cuts in while the agent is speaking")
    sim.add_argument("--conversation", "--conversation-id", dest="conversation", action="append", default=[],
                     help="the call continues this conversation (repeat, one per call)")  # fmt: skip
    sim.add_argument("--user-id", help="the caller's user id")
    sim.add_argument("--room", action="append", default=[], help="take the call in this room (repeat)")
    sim.add_argument("--resumed-from", help="take over this lost session, as rooms' re-dispatch would have it")


def calls_from(args: argparse.Namespace) -> list[SimulatedCall]:
    count = args.conversations if args.conversations is not None else (1 if args.utterances else 3)
    return plan_calls(
        count,
        conversation_ids=args.conversation,
        rooms=args.room,
        resumed_from=args.resumed_from,
        lines=args.utterances,
        user_id=args.user_id,
        barge_in=args.barge_in,
    )


def simulation_environment(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The agent's settings for a simulation: the environment's, the stack's NATS (`.parley/stack.env` after `make
    dev`) when the environment names none, and `--providers`."""
    env = dict(os.environ if environ is None else environ)
    stack = Path(env.get("PARLEY_STACK_ENV", ".parley/stack.env"))
    if "AGENT_NATS_URL" not in env and stack.is_file():
        values = dict(line.split("=", 1) for line in stack.read_text().splitlines() if "=" in line)
        for name in ("NATS_URL", "NATS_USER", "NATS_PASSWORD"):
            if f"PARLEY_{name}" in values:
                env[f"AGENT_{name}"] = values[f"PARLEY_{name}"]
    if args.providers:
        env["AGENT_PROVIDERS"] = args.providers
    return env
