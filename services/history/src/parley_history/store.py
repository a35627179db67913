"""The write side: one transaction per batch, set-based statements over `unnest` arrays.

Each statement takes whole columns as arrays, so a batch of 500 turns costs a handful of round trips
and the statements are prepared once. The hot path only inserts: conversation and session rows are
written when they are new or when a field really changes, never once per turn. Rows are sorted by key
so concurrent replicas lock in the same order; a deadlock or a lost connection surfaces as a transient
error and the batch is retried.
"""

from __future__ import annotations

import msgspec
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley_history.handlers import ConversationRow, SessionRow, WritePlan
from parley_history.known import KnownRows
from parley_runtime.consume import TransientError

tracer = trace.get_tracer("parley.history")

_json = msgspec.json.Encoder()

INSERT_CONVERSATIONS = text("""
INSERT INTO history.conversations (id, user_id, started_at, last_activity_at)
SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:users AS text[]),
                     CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[]))
ON CONFLICT (id) DO NOTHING
""")

# Only rows whose values change are rewritten; last activity is refreshed at most once a minute.
REFRESH_CONVERSATIONS = text("""
UPDATE history.conversations AS c SET
    user_id = COALESCE(c.user_id, u.user_id),
    started_at = LEAST(c.started_at, u.first_at),
    last_activity_at = GREATEST(c.last_activity_at, u.last_at)
FROM unnest(CAST(:ids AS text[]), CAST(:users AS text[]),
            CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[])) AS u(id, user_id, first_at, last_at)
WHERE c.id = u.id
  AND ((c.user_id IS NULL AND u.user_id IS NOT NULL)
       OR u.first_at < c.started_at
       OR u.last_at > c.last_activity_at + interval '1 minute')
""")

INSERT_SESSIONS = text("""
INSERT INTO history.sessions (id, conversation_id, room_name, room_sid, agent_name, user_id, started_at, metadata)
SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:convs AS text[]), CAST(:rooms AS text[]),
                     CAST(:sids AS text[]), CAST(:agents AS text[]), CAST(:users AS text[]),
                     CAST(:starts AS timestamptz[]), CAST(:metas AS jsonb[]))
ON CONFLICT (id) DO NOTHING
""")

# A session first seen through a turn gets its room and agent once `session_started` arrives.
START_SESSIONS = text("""
UPDATE history.sessions AS s SET
    room_name = u.room_name, room_sid = u.room_sid, agent_name = u.agent_name,
    user_id = COALESCE(u.user_id, s.user_id), started_at = u.started_at, metadata = u.metadata
FROM unnest(CAST(:ids AS text[]), CAST(:rooms AS text[]), CAST(:sids AS text[]), CAST(:agents AS text[]),
            CAST(:users AS text[]), CAST(:starts AS timestamptz[]), CAST(:metas AS jsonb[]))
     AS u(id, room_name, room_sid, agent_name, user_id, started_at, metadata)
WHERE s.id = u.id AND s.room_name IS NULL
""")

END_SESSIONS = text("""
UPDATE history.sessions AS s SET
    ended_at = u.ended_at,
    end_reason = u.reason,
    duration_seconds = u.duration,
    expected_turns = u.expected,
    usage = u.usage,
    started_at = COALESCE(s.started_at, u.started_at)
FROM unnest(CAST(:ids AS text[]), CAST(:ended AS timestamptz[]), CAST(:reasons AS text[]),
            CAST(:durations AS float8[]), CAST(:expected AS int[]), CAST(:usages AS jsonb[]),
            CAST(:starts AS timestamptz[]))
     AS u(id, ended_at, reason, duration, expected, usage, started_at)
WHERE s.id = u.id
""")

INSERT_TURNS = text("""
INSERT INTO history.turns (event_id, conversation_id, session_id, seq, role, text, interrupted,
                           occurred_at, started_at, ended_at, language, metrics, usage)
SELECT * FROM unnest(CAST(:event_ids AS uuid[]), CAST(:convs AS text[]), CAST(:sessions AS text[]),
                     CAST(:seqs AS int[]), CAST(:roles AS text[]), CAST(:texts AS text[]),
                     CAST(:interrupted AS bool[]), CAST(:occurred AS timestamptz[]),
                     CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]),
                     CAST(:languages AS text[]), CAST(:metrics AS jsonb[]), CAST(:usages AS jsonb[]))
ON CONFLICT DO NOTHING
""")


def _j(value: object) -> str | None:
    return None if value is None else _json.encode(value).decode()


class SqlHistoryStore:
    """`HistoryStore` on PostgreSQL."""

    def __init__(self, engine: AsyncEngine, known: KnownRows | None = None) -> None:
        self.engine = engine
        self.known = known or KnownRows()

    async def apply(self, plan: WritePlan) -> None:
        conversations = sorted(
            (r for r in plan.conversations.values() if self.known.conversation_needs_write(r)), key=lambda r: r.id
        )
        sessions = sorted((r for r in plan.sessions.values() if self.known.session_needs_write(r)), key=lambda r: r.id)
        try:
            with tracer.start_as_current_span(
                "history.insert",
                kind=SpanKind.CLIENT,
                attributes={"db.system.name": "postgresql", "parley.turns": len(plan.turns)},
            ):
                await self._write(plan, conversations, sessions)
        except IntegrityError as exc:
            # A row we remembered is gone (restore, manual delete): forget, and write everything next time.
            self.known.forget()
            raise TransientError("history rows missing; retrying with full upserts") from exc
        self.known.remember(conversations, sessions)

    async def _write(self, plan: WritePlan, conversations: list[ConversationRow], sessions: list[SessionRow]) -> None:
        async with self.engine.begin() as conn:
            if conversations:
                await self._conversations(conn, conversations)
            if sessions:
                await self._sessions(conn, sessions)
            if plan.ends:
                await self._ends(conn, plan)
            if plan.turns:
                await self._turns(conn, plan)

    async def _conversations(self, conn: AsyncConnection, rows: list[ConversationRow]) -> None:
        params = {
            "ids": [r.id for r in rows],
            "users": [r.user_id for r in rows],
            "firsts": [r.first_at for r in rows],
            "lasts": [r.last_at for r in rows],
        }
        await conn.execute(INSERT_CONVERSATIONS, params)
        await conn.execute(REFRESH_CONVERSATIONS, params)

    async def _sessions(self, conn: AsyncConnection, rows: list[SessionRow]) -> None:
        await conn.execute(
            INSERT_SESSIONS,
            {
                "ids": [r.id for r in rows],
                "convs": [r.conversation_id for r in rows],
                "rooms": [r.room_name for r in rows],
                "sids": [r.room_sid for r in rows],
                "agents": [r.agent_name for r in rows],
                "users": [r.user_id for r in rows],
                "starts": [r.started_at for r in rows],
                "metas": [_j(r.metadata) for r in rows],
            },
        )
        started = [r for r in rows if r.started_at is not None]
        if started:
            await conn.execute(
                START_SESSIONS,
                {
                    "ids": [r.id for r in started],
                    "rooms": [r.room_name for r in started],
                    "sids": [r.room_sid for r in started],
                    "agents": [r.agent_name for r in started],
                    "users": [r.user_id for r in started],
                    "starts": [r.started_at for r in started],
                    "metas": [_j(r.metadata) for r in started],
                },
            )

    async def _ends(self, conn: AsyncConnection, plan: WritePlan) -> None:
        ends = [plan.ends[k] for k in sorted(plan.ends)]
        await conn.execute(
            END_SESSIONS,
            {
                "ids": [e.session_id for e in ends],
                "ended": [e.ended_at for e in ends],
                "reasons": [e.reason for e in ends],
                "durations": [e.duration_seconds for e in ends],
                "expected": [e.turn_count for e in ends],
                "usages": [_j(e.usage) for e in ends],
                "starts": [e.started_at for e in ends],
            },
        )

    async def _turns(self, conn: AsyncConnection, plan: WritePlan) -> None:
        turns = sorted(plan.turns.values(), key=lambda t: (t.session_id, t.seq))
        await conn.execute(
            INSERT_TURNS,
            {
                "event_ids": [t.event_id for t in turns],
                "convs": [t.conversation_id for t in turns],
                "sessions": [t.session_id for t in turns],
                "seqs": [t.seq for t in turns],
                "roles": [t.role for t in turns],
                "texts": [t.text for t in turns],
                "interrupted": [t.interrupted for t in turns],
                "occurred": [t.occurred_at for t in turns],
                "starts": [t.started_at for t in turns],
                "ends": [t.ended_at for t in turns],
                "languages": [t.language for t in turns],
                "metrics": [_j(t.metrics) for t in turns],
                "usages": [_j(t.usage) for t in turns],
            },
        )
