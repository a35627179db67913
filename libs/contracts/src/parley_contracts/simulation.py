"""The request that starts a simulated call on an agent running without a LiveKit server (`make dev`).

The console sends it on `agent.v1.simulate` once rooms has created the room; one agent in simulate mode (a
queue group) runs the call through the same job path as `python -m parley_agent simulate --say`. Lines are
text only: a request cannot name a file for the caller to play. Errors come back as NATS micro service
errors (`Nats-Service-Error-Code` 400 or 503), as history's request/reply does.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from parley_contracts._base import Id

AGENT_SIMULATE_SUBJECT = "agent.v1.simulate"
SIMULATE_MAX_LINES = 20

Line = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^[^\x00]*$")]


class SimulateCallRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A call in `room` (created by rooms; `metadata` is the room's, as rooms wrote it for the agent) whose caller
    says `lines` in turn."""

    room: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
    conversation_id: Id
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    lines: Annotated[list[Line], msgspec.Meta(min_length=1, max_length=SIMULATE_MAX_LINES)]


class SimulateCallReply(msgspec.Struct, frozen=True, kw_only=True):
    room: str
    conversation_id: str
