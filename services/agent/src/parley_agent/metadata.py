"""The room metadata the rooms service writes and the agent reads at job start.

`{"conversation_id": "...", "user_id": "...", "instructions": "...", "language": "en"}`. Anything wrong
(not JSON, not an object, a bad id) is logged and replaced by a safe default, never a crash: a call
with a broken room must still be answered.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field

from parley_contracts.rooms import DISPATCH_RESUMED_FROM

logger = logging.getLogger(__name__)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


@dataclass(frozen=True)
class RoomMetadata:
    conversation_id: str
    user_id: str | None = None
    instructions: str | None = None
    language: str | None = None
    # Scripted caller lines, honoured only in simulated (fake) jobs.
    simulation: list[str] = field(default_factory=list)
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
    lines = [s for s in script if isinstance(s, str)] if isinstance(script, list) else []
    return RoomMetadata(
        conversation_id=str(conversation_id),
        user_id=_str(data.get("user_id"), 256),
        instructions=_str(data.get("instructions"), 8000),
        language=_str(data.get("language"), 16),
        simulation=lines,
        generated_conversation_id=generated,
    )


def dispatch_resumed_from(raw: str | None) -> str | None:
    """The lost session a re-dispatch continues: `resumed_from` in the job's dispatch metadata, which the rooms
    service sets when it dispatches the agent again to a caller a lost agent left (its agent failover)."""
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        return None
    value = data.get(DISPATCH_RESUMED_FROM) if isinstance(data, dict) else None
    return value if isinstance(value, str) and _ID.match(value) else None
