"""The room metadata the rooms service writes and the agent reads at job start.

`{"conversation_id": "...", "user_id": "...", "instructions": "...", "language": "en", "greeting": "...",
"memory": "conversation" | "user", "agents": {"booking": {"instructions": "...", "description": "..."}},
"analysis_schema": "call"}`.
Anything wrong (not JSON, not an object, a bad id) is logged and replaced by a safe default, never a crash: a
call with a broken room must still be answered.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Literal

from parley_contracts import ID_RE
from parley_contracts.rooms import DISPATCH_RESUMED_FROM

logger = logging.getLogger(__name__)

_ID = ID_RE


AGENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_AGENTS = 8


@dataclass(frozen=True)
class PeerAgent:
    """An agent the room's assistant may hand the call to."""

    name: str
    instructions: str
    description: str


@dataclass(frozen=True)
class RoomMetadata:
    conversation_id: str
    user_id: str | None = None
    instructions: str | None = None
    language: str | None = None
    greeting: str | None = None  # what the agent is told to say first, instead of the configured greeting
    memory: Literal["conversation", "user"] = "conversation"
    agents: tuple[PeerAgent, ...] = ()
    analysis_schema: str | None = None  # which analysis insights makes of the call, by the schema's name
    # Entity types this call redacts besides the deployment's, and those it asks not to (policy.call_types).
    redact_add: tuple[str, ...] = ()
    redact_remove: tuple[str, ...] = ()
    # Scripted caller lines, and the job's dispatch metadata (what rooms' re-dispatch would carry), honoured
    # only in simulated (fake) jobs, which have no dispatch of their own.
    simulation: list[object] = field(default_factory=list)  # lines of text, or {"wav": path}
    simulated_dispatch: str | None = None
    simulated_barge_in: bool = False
    generated_conversation_id: bool = False


def _str(value: object, limit: int) -> str | None:
    # Without NULs: the user id lands in Postgres, which cannot store one (rooms refuses them; metadata written
    # by another tool may not).
    text = value.replace("\x00", "")[:limit] if isinstance(value, str) else None
    return text or None


def parse_room_metadata(raw: str | None) -> RoomMetadata:
    data: object = {}
    if raw:
        try:
            data = json.loads(raw)
        except ValueError:
            logger.warning("room metadata is not JSON; starting a new conversation")
    if not isinstance(data, dict):
        logger.warning("room metadata is not a JSON object; starting a new conversation")
        data = {}
    conversation_id = data.get("conversation_id")
    generated = not (isinstance(conversation_id, str) and _ID.match(conversation_id))
    if generated:
        if conversation_id is not None:
            logger.warning("invalid conversation_id in room metadata; starting a new conversation")
        conversation_id = str(uuid.uuid4())
    script = data.get("simulation")
    lines: list[object] = []
    if isinstance(script, list):
        lines = list[object]([s for s in script if isinstance(s, str | dict)][:100])
    return RoomMetadata(
        conversation_id=str(conversation_id),
        user_id=_str(data.get("user_id"), 256),
        instructions=_str(data.get("instructions"), 8000),
        language=_str(data.get("language"), 16),
        greeting=_str(data.get("greeting"), 2000),
        memory="user" if data.get("memory") == "user" else "conversation",
        agents=_peers(data.get("agents")),
        analysis_schema=_str(data.get("analysis_schema"), 128),
        redact_add=_names(data.get("redact"), "add"),
        redact_remove=_names(data.get("redact"), "remove"),
        simulation=lines,
        simulated_dispatch=data["dispatch"] if isinstance(data.get("dispatch"), str) else None,
        simulated_barge_in=data.get("barge_in") is True,
        generated_conversation_id=generated,
    )


def _names(value: object, key: str) -> tuple[str, ...]:
    """`{"add": [...], "remove": [...]}` entity type names, upper-cased; anything else is no name."""
    names = value.get(key) if isinstance(value, dict) else None
    return tuple(n.upper() for n in names[:32] if isinstance(n, str)) if isinstance(names, list) else ()


def _peers(value: object) -> tuple[PeerAgent, ...]:
    """The agents the call may be handed to; a malformed entry is left out (and logged), never a crash."""
    if not isinstance(value, dict):
        return ()
    peers = []
    for name, spec in list(value.items())[:MAX_AGENTS]:
        instructions = _str(spec.get("instructions"), 8000) if isinstance(spec, dict) else None
        if not (isinstance(name, str) and AGENT_NAME.match(name) and instructions):
            logger.warning("an agent in the room metadata is malformed; leaving it out")
            continue
        description = _str(spec.get("description"), 500) or instructions[:200]
        peers.append(PeerAgent(name, instructions, description))
    return tuple(peers)


def dispatch_resumed_from(raw: str | None) -> str | None:
    """The lost session a re-dispatch continues: `resumed_from` in the job's dispatch metadata, which the rooms
    service sets when it dispatches the agent again to a caller a lost agent left (its agent failover)."""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    value = data.get(DISPATCH_RESUMED_FROM) if isinstance(data, dict) else None
    return value if isinstance(value, str) and _ID.match(value) else None
