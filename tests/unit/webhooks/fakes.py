"""An in-memory `WebhookStore` with the SQL store's rules, for the intake's use case without Postgres."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from parley_webhooks.intake import ReportParts
from parley_webhooks.reports import ReportRow
from parley_webhooks.routing import Endpoint, NewMessage


@dataclass
class MemoryWebhookStore:
    endpoints: list[Endpoint] = field(default_factory=list)
    messages: dict[str, NewMessage] = field(default_factory=dict)
    reports: dict[str, ReportRow] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)
    erased_ids: set[str] = field(default_factory=set)
    latencies: dict[str, dict[int, dict[str, float | None]]] = field(default_factory=dict)

    async def enabled_endpoints(self) -> list[Endpoint]:
        return list(self.endpoints)

    async def erased(self, conversation_ids: Collection[str]) -> set[str]:
        return set(conversation_ids) & self.erased_ids

    async def erase(self, conversation_id: str, at: datetime) -> None:
        self.erased_ids.add(conversation_id)
        self.messages = {k: m for k, m in self.messages.items() if m.conversation_id != conversation_id}
        self.reports = {k: r for k, r in self.reports.items() if r.conversation_id != conversation_id}

    async def enqueue(self, messages: Sequence[NewMessage], at: datetime) -> None:
        for m in messages:
            self.messages.setdefault(m.id, m)

    async def add_report_parts(self, parts: ReportParts) -> None:
        for sid, cid in parts.conversations.items():
            row = self.reports.setdefault(sid, ReportRow(sid, cid))
            ended = parts.ended.get(sid)
            if ended is not None and (row.ended is None or row.ended.get("producer") != "agent"):
                row.ended, row.due_at = ended, parts.due_at[sid]
            by_id = {r["recording_id"]: r for r in row.recordings}
            for rec in parts.recordings.get(sid, []):
                held = by_id.get(rec["recording_id"])
                if held is None or held.get("provisional"):
                    by_id[rec["recording_id"]] = rec
            row.recordings = list(by_id.values())
            analysis = parts.analyses.get(sid)
            if analysis is not None and (row.analysis is None or analysis["revision"] > row.analysis["revision"]):
                row.analysis = analysis
            self.latencies.setdefault(sid, {}).update(parts.latencies.get(sid, {}))
            row.latencies = list(self.latencies[sid].values())

    async def ready_reports(self, now: datetime, session_ids: Collection[str] | None) -> list[ReportRow]:
        rows = [r for r in self.reports.values() if r.session_id not in self.sent and r.ended is not None]
        if session_ids is None:
            return [r for r in rows if r.due_at is not None and r.due_at <= now]
        return [r for r in rows if r.session_id in session_ids]

    async def reports_sent(self, session_ids: Collection[str], messages: Sequence[NewMessage], at: datetime) -> None:
        self.sent |= set(session_ids)
        await self.enqueue(messages, at)
