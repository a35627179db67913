"""What the webhooks service does with a batch of events, independent of NATS and SQL: queue the messages of the
endpoints that want each event, gather each session's report parts, and queue the reports that are ready.

Every step is idempotent (a message's id is derived from its event and endpoint; report parts are set, not
added, except latencies, which are keyed by turn), so a redelivered batch changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

import parley_contracts as c
from parley_webhooks import reports
from parley_webhooks.reports import ReportRow
from parley_webhooks.routing import Endpoint, NewMessage, event_messages, report_messages


@dataclass
class ReportParts:
    """What one batch adds to the reports: by session."""

    conversations: dict[str, str] = field(default_factory=dict)  # session -> conversation
    ended: dict[str, dict[str, Any]] = field(default_factory=dict)
    due_at: dict[str, datetime] = field(default_factory=dict)
    recordings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    analyses: dict[str, dict[str, Any]] = field(default_factory=dict)
    # session -> seq -> stage (llm_ttft, e2e_latency, ...) -> seconds
    latencies: dict[str, dict[int, dict[str, float | None]]] = field(default_factory=dict)


class WebhookStore(Protocol):
    async def enabled_endpoints(self) -> list[Endpoint]: ...

    async def erased(self, conversation_ids: Collection[str]) -> set[str]: ...

    async def erase(self, conversation_id: str, at: datetime) -> None:
        """Forget the conversation: its queued and logged messages and its reports; drop its later events."""

    async def enqueue(self, messages: Sequence[NewMessage], at: datetime) -> None:
        """Queue messages for delivery now; one already queued (the same id) is left as it is."""

    async def add_report_parts(self, parts: ReportParts) -> None: ...

    async def ready_reports(self, now: datetime, session_ids: Collection[str] | None) -> list[ReportRow]:
        """Unsent reports that are ready, of these sessions (None: any whose wait is over)."""

    async def reports_sent(self, session_ids: Collection[str], messages: Sequence[NewMessage], at: datetime) -> None:
        """Queue the reports' messages and mark the reports sent, at once."""


def _data(event: c.Event) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(c.encode(event))
    return found


def _gather(parts: ReportParts, event: c.Event, wait: timedelta) -> None:
    sid = getattr(event, "session_id", None)
    if sid is None:
        return
    if isinstance(event, c.SessionEnded):
        held = parts.ended.get(sid)
        if held is None or held.get("producer") != "agent":  # the agent's own end over history's (agent lost)
            parts.ended[sid] = _data(event)
            parts.due_at[sid] = event.occurred_at + wait
    elif isinstance(event, c.RecordingStored):
        parts.recordings.setdefault(sid, []).append(_data(event))
    elif isinstance(event, c.SessionAnalyzed):
        held = parts.analyses.get(sid)
        if held is None or event.revision > held["revision"]:
            parts.analyses[sid] = _data(event)
    elif isinstance(event, c.TurnCompleted) and event.metrics:
        parts.latencies.setdefault(sid, {})[event.seq] = msgspec.structs.asdict(event.metrics)
    else:
        return
    parts.conversations[sid] = event.conversation_id


async def take(
    events: Sequence[c.Event],
    store: WebhookStore,
    now: datetime,
    *,
    report_wait: timedelta,
    links: reports.Links | None,
) -> None:
    """Handle one batch; safe to run again with the same events."""
    erased = await store.erased({e.conversation_id for e in events})
    for event in events:
        if isinstance(event, c.ConversationErased):
            await store.erase(event.conversation_id, now)
            erased.add(event.conversation_id)
    kept = [e for e in events if e.conversation_id not in erased and not isinstance(e, c.ConversationErased)]
    endpoints = await store.enabled_endpoints()
    await store.enqueue([m for e in kept for m in event_messages(e, endpoints)], now)
    parts = ReportParts()
    for event in kept:
        _gather(parts, event, report_wait)
    if parts.conversations:
        await store.add_report_parts(parts)
        await send_ready_reports(store, now, links, set(parts.conversations))


async def send_ready_reports(
    store: WebhookStore, now: datetime, links: reports.Links | None, session_ids: Collection[str] | None = None
) -> int:
    """Queue the reports that are complete (of `session_ids`), or whose wait is over (None); how many."""
    ready = [r for r in await store.ready_reports(now, session_ids) if r.ready(now)]
    if not ready:
        return 0
    endpoints = await store.enabled_endpoints()
    messages = [m for row in ready for m in report_messages(await reports.build(row, links), now, endpoints)]
    await store.reports_sent([r.session_id for r in ready], messages, now)
    return len(ready)
