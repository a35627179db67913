"""The agent as the console's "simulated call" reaches it: a request on `agent.v1.simulate`, answered by one agent
in simulate mode (`make dev` runs one when no LiveKit server is configured)."""

from __future__ import annotations

from collections.abc import Callable

from nats.aio.client import Client

from parley_console.talk import NoAgent
from parley_contracts.simulation import AGENT_SIMULATE_SUBJECT, SimulateCallReply, SimulateCallRequest
from parley_runtime.messaging.request import Unanswered, ask


class NatsSimulatingAgent:
    def __init__(self, connection: Callable[[], Client | None], timeout: float = 10.0) -> None:
        self.connection = connection
        self.timeout = timeout

    async def simulate(self, request: SimulateCallRequest) -> None:
        nc = self.connection()
        if nc is None or not nc.is_connected:
            raise NoAgent("NATS is not connected")
        try:
            await ask(nc, AGENT_SIMULATE_SUBJECT, request, SimulateCallReply, timeout=self.timeout)
        except Unanswered as exc:
            raise NoAgent(f"no agent in simulate mode took the call ({exc})") from exc
