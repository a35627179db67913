"""Which endpoint gets what, and the body it gets: `{type, timestamp, data}`, the event's JSON as `data`.

An endpoint names the types it wants: Parley event types (`turn_completed.v1`), `call.report`, or `*` for every
event type (and the report). Without any, it gets `call.report` alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import parley_contracts as c
from parley_webhooks.signing import message_id

REPORT = "call.report"
TEST = "webhook.test"
DEFAULT_TYPES = (REPORT,)
KNOWN_TYPES = frozenset({t.tag() for t in c.EVENT_TYPES} | {REPORT})


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    event_types: tuple[str, ...]

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types or ("*" in self.event_types and event_type != TEST)


@dataclass(frozen=True)
class NewMessage:
    id: str  # the webhook-id
    endpoint_id: str
    event_type: str
    event_id: UUID | None
    conversation_id: str | None
    body: bytes


def body(event_type: str, at: datetime, data: Any) -> bytes:
    return json.dumps({"type": event_type, "timestamp": at.isoformat(), "data": data}, separators=(",", ":")).encode()


def event_messages(event: c.Event, endpoints: list[Endpoint]) -> list[NewMessage]:
    t = event.tag()
    wanted = [e for e in endpoints if e.wants(t)]
    if not wanted:
        return []
    sent = body(t, event.occurred_at, json.loads(c.encode(event)))
    return [
        NewMessage(message_id(e.id, str(event.event_id)), e.id, t, event.event_id, event.conversation_id, sent)
        for e in wanted
    ]


def report_messages(report: dict[str, Any], at: datetime, endpoints: list[Endpoint]) -> list[NewMessage]:
    sent = body(REPORT, at, report)
    key = f"report/{report['session_id']}"
    return [
        NewMessage(message_id(e.id, key), e.id, REPORT, None, report["conversation_id"], sent)
        for e in endpoints
        if e.wants(REPORT)
    ]
