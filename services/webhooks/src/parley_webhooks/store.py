"""`WebhookStore` on PostgreSQL: the intake's writes, each one statement or one transaction."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_webhooks.intake import ReportParts
from parley_webhooks.models import endpoints, erased, messages, reports
from parley_webhooks.reports import ReportRow
from parley_webhooks.routing import DEFAULT_TYPES, Endpoint, NewMessage

# Parts merge into the row: the agent's end over history's, recordings by id, the newest analysis, latencies by
# turn (a jsonb object, so a redelivered turn overwrites itself).
MERGE_REPORT = text("""
INSERT INTO webhooks.reports AS r (session_id, conversation_id, ended, recordings, analysis, latencies, due_at)
VALUES (:sid, :cid, CAST(:ended AS jsonb), CAST(:recordings AS jsonb), CAST(:analysis AS jsonb),
        CAST(:latencies AS jsonb), :due_at)
ON CONFLICT (session_id) DO UPDATE SET
    ended = CASE WHEN excluded.ended IS NOT NULL
                  AND (r.ended IS NULL OR r.ended ->> 'producer' <> 'agent') THEN excluded.ended ELSE r.ended END,
    due_at = CASE WHEN excluded.ended IS NOT NULL
                   AND (r.ended IS NULL OR r.ended ->> 'producer' <> 'agent') THEN excluded.due_at ELSE r.due_at END,
    recordings = (SELECT coalesce(jsonb_agg(x), '[]') FROM (
                      SELECT DISTINCT ON (x ->> 'recording_id') x
                      FROM jsonb_array_elements(r.recordings || excluded.recordings) AS x
                      ORDER BY x ->> 'recording_id', (x ->> 'provisional')::boolean NULLS FIRST) AS d),
    analysis = CASE WHEN excluded.analysis IS NOT NULL AND (r.analysis IS NULL
                         OR (excluded.analysis ->> 'revision')::int > (r.analysis ->> 'revision')::int)
                    THEN excluded.analysis ELSE r.analysis END,
    latencies = r.latencies || excluded.latencies
""")


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _message_rows(queued: Sequence[NewMessage], at: datetime) -> list[dict[str, Any]]:
    """Queued messages as rows: pending, due at once."""
    return [
        {
            "id": m.id,
            "endpoint_id": m.endpoint_id,
            "event_type": m.event_type,
            "event_id": m.event_id,
            "conversation_id": m.conversation_id,
            "body": m.body,
            "created_at": at,
            "status": "pending",
            "next_attempt_at": at,
        }
        for m in queued
    ]


class SqlWebhookStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def enabled_endpoints(self) -> list[Endpoint]:
        q = select(endpoints.c.id, endpoints.c.url, endpoints.c.event_types).where(endpoints.c.disabled_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [Endpoint(r.id, r.url, tuple(r.event_types) or DEFAULT_TYPES) for r in rows]

    async def erased(self, conversation_ids: Collection[str]) -> set[str]:
        q = select(erased.c.conversation_id).where(erased.c.conversation_id.in_(sorted(conversation_ids)))
        async with self.engine.connect() as conn:
            return set((await conn.execute(q)).scalars())

    async def erase(self, conversation_id: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            stmt = insert(erased).values(conversation_id=conversation_id, at=at)
            await conn.execute(stmt.on_conflict_do_nothing())
            await conn.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            await conn.execute(delete(reports).where(reports.c.conversation_id == conversation_id))

    async def enqueue(self, queued: Sequence[NewMessage], at: datetime) -> None:
        if not queued:
            return
        rows = _message_rows(queued, at)
        async with self.engine.begin() as conn:
            await conn.execute(insert(messages).values(rows).on_conflict_do_nothing())

    async def add_report_parts(self, parts: ReportParts) -> None:
        async with self.engine.begin() as conn:
            for sid in sorted(parts.conversations):  # one lock order for concurrent batches
                params = {"sid": sid, "cid": parts.conversations[sid], "ended": _j(parts.ended.get(sid)),
                          "recordings": _j(parts.recordings.get(sid, [])), "analysis": _j(parts.analyses.get(sid)),
                          "latencies": _j({str(k): v for k, v in parts.latencies.get(sid, {}).items()}),
                          "due_at": parts.due_at.get(sid)}  # fmt: skip
                await conn.execute(MERGE_REPORT, params)

    async def ready_reports(self, now: datetime, session_ids: Collection[str] | None) -> list[ReportRow]:
        q = select(reports).where(reports.c.sent_at.is_(None), reports.c.ended.is_not(None))
        if session_ids is None:
            q = q.where(reports.c.due_at <= now)
        else:
            q = q.where(reports.c.session_id.in_(sorted(session_ids)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q.limit(500))).all()
        return [
            ReportRow(
                r.session_id,
                r.conversation_id,
                r.ended,
                list(r.recordings),
                r.analysis,
                list(r.latencies.values()),
                r.due_at,
            )
            for r in rows
        ]

    async def reports_sent(self, session_ids: Collection[str], queued: Sequence[NewMessage], at: datetime) -> None:
        async with self.engine.begin() as conn:
            done = update(reports).where(reports.c.session_id.in_(sorted(session_ids)), reports.c.sent_at.is_(None))
            await conn.execute(done.values(sent_at=at))
            if queued:
                await conn.execute(insert(messages).values(_message_rows(queued, at)).on_conflict_do_nothing())

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            q = select(func.count()).select_from(messages).where(messages.c.status == "pending")
            return int((await conn.execute(q)).scalar_one())
