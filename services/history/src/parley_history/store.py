"""The write side: one transaction per batch, set-based statements, turns by COPY.

Conversation, session and end rows go in as whole columns (`unnest` arrays), so a batch costs a handful
of round trips, and they are written only when new or when a field really changes (`KnownRows`), never
once per turn. Turns, the bulk of the work, take the fast path first: a binary COPY, which costs
PostgreSQL and this process several microseconds less per turn than the `unnest` insert. COPY cannot
skip rows that already exist, so a batch holding an already stored turn (a redelivery) fails a unique
index; the whole transaction then runs again with `INSERT ... ON CONFLICT DO NOTHING`. Either way each
turn is stored once.

Turns have no foreign key to their session (migration 0002: the per-row check was a fifth of the insert).
Instead, the sessions a batch relies on but does not write, because `KnownRows` remembers them, are counted
once per batch in the same transaction; if one is gone (restore, manual delete) the store forgets what it
remembered and the batch is retried, writing every row.

Each batch first takes its conversations' shared locks and learns which of them were erased on request
(migration 0006, `erasure`): their events are dropped, not written, and the erasure is marked for
another purge of the streams, which hold them again.

The write path runs on the asyncpg connection under the engine's pool (`db.driver_connection`: COPY is
not an SQL statement SQLAlchemy can send). Rows are sorted by key so concurrent replicas lock in the same order; a lost
connection or a deadlock surfaces as a transient error and the batch is retried. Data Postgres refuses (a NUL
character, a text too long to index for search) surfaces as it is: the consumer's `db.poison_reason` dead-letters
that event, once the consume loop has retried its batch one event at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts import AgentHandoff, SessionAnalyzed, SessionEnded, TurnCompleted
from parley_history.db import driver_connection
from parley_history.erasure import LATE, note_late_events
from parley_history.handlers import ConversationRow, SessionRow, WritePlan
from parley_history.known import KnownRows
from parley_runtime.messaging.handling import TransientError

tracer = trace.get_tracer("parley.history")
logger = logging.getLogger(__name__)

_json = msgspec.json.Encoder()

INSERT_CONVERSATIONS = """
INSERT INTO history.conversations (id, user_id, started_at, last_activity_at)
SELECT * FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]),
                     CAST($3 AS timestamptz[]), CAST($4 AS timestamptz[]))
ON CONFLICT (id) DO NOTHING
"""

# Only rows whose values change are rewritten; last activity is refreshed at most once a minute.
REFRESH_CONVERSATIONS = """
UPDATE history.conversations AS c SET
    user_id = COALESCE(c.user_id, u.user_id),
    started_at = LEAST(c.started_at, u.first_at),
    last_activity_at = GREATEST(c.last_activity_at, u.last_at)
FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]),
            CAST($3 AS timestamptz[]), CAST($4 AS timestamptz[])) AS u(id, user_id, first_at, last_at)
WHERE c.id = u.id
  AND ((c.user_id IS NULL AND u.user_id IS NOT NULL)
       OR u.first_at < c.started_at
       OR u.last_at > c.last_activity_at + interval '1 minute')
"""

INSERT_SESSIONS = """
INSERT INTO history.sessions (id, conversation_id, room_name, room_sid, agent_name, user_id, started_at, metadata,
                              resumed_from)
SELECT * FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]), CAST($3 AS text[]),
                     CAST($4 AS text[]), CAST($5 AS text[]), CAST($6 AS text[]),
                     CAST($7 AS timestamptz[]), CAST($8 AS jsonb[]), CAST($9 AS text[]))
ON CONFLICT (id) DO NOTHING
"""

# A session first seen through a turn gets its room and agent once `session_started` arrives.
START_SESSIONS = """
UPDATE history.sessions AS s SET
    room_name = u.room_name, room_sid = u.room_sid, agent_name = u.agent_name,
    user_id = COALESCE(u.user_id, s.user_id), started_at = u.started_at, metadata = u.metadata,
    resumed_from = u.resumed_from
FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]), CAST($3 AS text[]), CAST($4 AS text[]),
            CAST($5 AS text[]), CAST($6 AS timestamptz[]), CAST($7 AS jsonb[]), CAST($8 AS text[]))
     AS u(id, room_name, room_sid, agent_name, user_id, started_at, metadata, resumed_from)
WHERE s.id = u.id AND s.room_name IS NULL
"""

END_SESSIONS = """
UPDATE history.sessions AS s SET
    ended_at = u.ended_at,
    end_reason = u.reason,
    duration_seconds = u.duration,
    expected_turns = u.expected,
    usage = u.usage,
    started_at = COALESCE(s.started_at, u.started_at)
FROM unnest(CAST($1 AS text[]), CAST($2 AS timestamptz[]), CAST($3 AS text[]),
            CAST($4 AS float8[]), CAST($5 AS int[]), CAST($6 AS jsonb[]),
            CAST($7 AS timestamptz[]))
     AS u(id, ended_at, reason, duration, expected, usage, started_at)
WHERE s.id = u.id AND (u.reason <> 'agent_lost' OR s.ended_at IS NULL)  -- never over the agent's own end
"""

INSERT_TURNS = """
INSERT INTO history.turns (event_id, conversation_id, session_id, seq, role, text, interrupted,
                           occurred_at, started_at, ended_at, language, metrics, usage, agent, words, redactions)
SELECT * FROM unnest(CAST($1 AS uuid[]), CAST($2 AS text[]), CAST($3 AS text[]),
                     CAST($4 AS int[]), CAST($5 AS text[]), CAST($6 AS text[]),
                     CAST($7 AS bool[]), CAST($8 AS timestamptz[]),
                     CAST($9 AS timestamptz[]), CAST($10 AS timestamptz[]),
                     CAST($11 AS text[]), CAST($12 AS jsonb[]), CAST($13 AS jsonb[]), CAST($14 AS text[]),
                     CAST($15 AS jsonb[]), CAST($16 AS jsonb[]))
ON CONFLICT DO NOTHING
"""

# The highest revision wins whatever order the analyses arrive in; a redelivered one rewrites the same values.
UPSERT_ANALYSES = """
INSERT INTO history.session_analyses AS a (session_id, conversation_id, event_id, revision, status, analyzer, summary,
                                      data_schema, data, evaluation, failure, currency, cost_total, cost, analyzed_at)
SELECT * FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]), CAST($3 AS uuid[]), CAST($4 AS int[]),
                     CAST($5 AS text[]), CAST($6 AS text[]), CAST($7 AS text[]), CAST($8 AS text[]),
                     CAST($9 AS jsonb[]), CAST($10 AS jsonb[]), CAST($11 AS text[]), CAST($12 AS text[]),
                     CAST($13 AS float8[]), CAST($14 AS jsonb[]), CAST($15 AS timestamptz[]))
ON CONFLICT (session_id) DO UPDATE SET
    event_id = excluded.event_id, revision = excluded.revision, status = excluded.status,
    analyzer = excluded.analyzer, summary = excluded.summary, data_schema = excluded.data_schema,
    data = excluded.data, evaluation = excluded.evaluation, failure = excluded.failure,
    currency = excluded.currency, cost_total = excluded.cost_total, cost = excluded.cost,
    analyzed_at = excluded.analyzed_at
WHERE (excluded.revision, excluded.analyzed_at) >= (a.revision, a.analyzed_at)
"""

INSERT_HANDOFFS = """
INSERT INTO history.handoffs (event_id, conversation_id, session_id, from_agent, to_agent, reason, at)
SELECT * FROM unnest(CAST($1 AS uuid[]), CAST($2 AS text[]), CAST($3 AS text[]), CAST($4 AS text[]),
                     CAST($5 AS text[]), CAST($6 AS text[]), CAST($7 AS timestamptz[]))
ON CONFLICT DO NOTHING
"""


COUNT_SESSIONS = "SELECT count(*) FROM history.sessions WHERE id = ANY($1::text[])"

# Migration 0006: the batch's conversations, locked shared, and which of them are erased.
HOLD = "SELECT * FROM history.hold_conversations($1::text[])"

TURN_COLUMNS = [
    "event_id", "conversation_id", "session_id", "seq", "role", "text", "interrupted",
    "occurred_at", "started_at", "ended_at", "language", "metrics", "usage", "agent", "words", "redactions",
]  # fmt: skip


def _j(value: object) -> str | None:
    return None if value is None else _json.encode(value).decode()


def _turn_rows(plan: WritePlan) -> list[tuple[Any, ...]]:
    turns: list[TurnCompleted] = sorted(plan.turns.values(), key=lambda t: (t.session_id, t.seq))
    return [
        (
            t.event_id, t.conversation_id, t.session_id, t.seq, t.role, t.text, t.interrupted,
            t.occurred_at, t.started_at, t.ended_at, t.language, _j(t.metrics), _j(t.usage), t.agent, _j(t.words),
            _j(t.redactions) if t.redactions else None,
        )
        for t in turns
    ]  # fmt: skip


class _MissingSessions(Exception):
    """A session `KnownRows` vouched for is not in the database."""


@dataclass
class _Rows:
    """What one batch writes; `without()` leaves out erased conversations."""

    held: list[str]  # every conversation of the batch, written or not: locked, and checked for erasure
    conversations: list[ConversationRow]
    sessions: list[SessionRow]
    vouched: list[str]  # sessions the batch relies on without writing them (`KnownRows` remembers them)
    turns: list[tuple[Any, ...]]  # in TURN_COLUMNS order
    ends: list[SessionEnded]
    owner: dict[str, str]  # session id -> conversation id
    handoffs: list[AgentHandoff]
    analyses: list[SessionAnalyzed]

    def without(self, erased: set[str]) -> _Rows:
        return _Rows(
            self.held,
            [r for r in self.conversations if r.id not in erased],
            [r for r in self.sessions if r.conversation_id not in erased],
            [s for s in self.vouched if self.owner[s] not in erased],
            [t for t in self.turns if t[1] not in erased],
            [e for e in self.ends if e.conversation_id not in erased],
            self.owner,
            [h for h in self.handoffs if h.conversation_id not in erased],
            [a for a in self.analyses if a.conversation_id not in erased],
        )


def _rows(plan: WritePlan, known: KnownRows) -> _Rows:
    conversations = sorted((r for r in plan.conversations.values() if known.conversation_needs_write(r)), key=_id)
    sessions = sorted((r for r in plan.sessions.values() if known.session_needs_write(r)), key=_id)
    vouched = sorted(set(plan.sessions) - {r.id for r in sessions})
    ends = [plan.ends[k] for k in sorted(plan.ends)]
    owner = {sid: row.conversation_id for sid, row in plan.sessions.items()}
    handoffs = sorted(plan.handoffs.values(), key=lambda h: (h.session_id, h.at))
    analyses = [plan.analyses[k] for k in sorted(plan.analyses)]
    return _Rows(
        sorted(plan.conversations), conversations, sessions, vouched, _turn_rows(plan), ends, owner, handoffs, analyses
    )


def _id(row: ConversationRow | SessionRow) -> str:
    return row.id


class SqlHistoryStore:
    """`HistoryStore` on PostgreSQL."""

    def __init__(
        self, engine: AsyncEngine, known: KnownRows | None = None, on_resumed: Callable[[], None] | None = None
    ) -> None:
        self.engine = engine
        self.known = known or KnownRows()
        self.on_resumed = on_resumed  # called once a session that resumes a lost one is stored
        self.copy_fallbacks = 0  # batches that held an already stored turn (tests and curiosity)
        self.erased_dropped = 0  # turns dropped because their conversation was erased

    async def note_late(self, conversation_ids: Collection[str]) -> None:
        await note_late_events(self.engine, conversation_ids)

    async def apply(self, plan: WritePlan) -> None:
        rows = _rows(plan, self.known)
        try:
            with tracer.start_as_current_span(
                "history.insert",
                kind=SpanKind.CLIENT,
                attributes={"db.system.name": "postgresql", "parley.turns": len(rows.turns)},
            ):
                async with driver_connection(self.engine) as conn:
                    try:
                        written = await self._write(conn, rows, copy=True)
                    except asyncpg.UniqueViolationError:
                        self.copy_fallbacks += 1
                        written = await self._write(conn, rows, copy=False)
        except (_MissingSessions, asyncpg.ForeignKeyViolationError) as exc:
            # A row we remembered is gone (restore, manual delete): forget, and write everything next time
            # (a session's foreign key to its conversation reports a missing conversation the same way).
            self.known.forget()
            raise TransientError("history rows missing; retrying with full upserts") from exc
        if dropped := len(rows.turns) - len(written.turns):
            self.erased_dropped += dropped
            logger.info("dropped the turns of erased conversations", extra={"turns": dropped})
        self.known.remember(written.conversations, written.sessions)
        if self.on_resumed is not None and any(r.resumed_from for r in written.sessions):
            self.on_resumed()

    async def _write(self, conn: asyncpg.Connection, rows: _Rows, *, copy: bool) -> _Rows:
        async with conn.transaction():
            # First, under the conversations' shared locks: an erasure either finished before (its
            # conversation is left out here) or waits for this commit (and deletes what it wrote).
            erased = {r[0] for r in await conn.fetch(HOLD, rows.held)}
            if erased:
                rows = rows.without(erased)
                await conn.execute(LATE, sorted(erased))
            if rows.vouched and await conn.fetchval(COUNT_SESSIONS, rows.vouched) != len(rows.vouched):
                raise _MissingSessions
            if rows.conversations:
                await self._conversations(conn, rows.conversations)
            if rows.sessions:
                await self._sessions(conn, rows.sessions)
            if rows.ends:
                await self._ends(conn, rows.ends)
            if rows.handoffs:
                await self._handoffs(conn, rows.handoffs)
            if rows.analyses:
                await self._analyses(conn, rows.analyses)
            if rows.turns and copy:
                await conn.copy_records_to_table(
                    "turns", schema_name="history", columns=TURN_COLUMNS, records=rows.turns
                )
            elif rows.turns:
                await conn.execute(INSERT_TURNS, *(list(column) for column in zip(*rows.turns, strict=True)))
        return rows

    async def _conversations(self, conn: asyncpg.Connection, rows: list[ConversationRow]) -> None:
        columns = (
            [r.id for r in rows],
            [r.user_id for r in rows],
            [r.first_at for r in rows],
            [r.last_at for r in rows],
        )
        await conn.execute(INSERT_CONVERSATIONS, *columns)
        await conn.execute(REFRESH_CONVERSATIONS, *columns)

    async def _sessions(self, conn: asyncpg.Connection, rows: list[SessionRow]) -> None:
        await conn.execute(
            INSERT_SESSIONS,
            [r.id for r in rows],
            [r.conversation_id for r in rows],
            [r.room_name for r in rows],
            [r.room_sid for r in rows],
            [r.agent_name for r in rows],
            [r.user_id for r in rows],
            [r.started_at for r in rows],
            [_j(r.metadata) for r in rows],
            [r.resumed_from for r in rows],
        )
        started = [r for r in rows if r.started_at is not None]
        if started:
            await conn.execute(
                START_SESSIONS,
                [r.id for r in started],
                [r.room_name for r in started],
                [r.room_sid for r in started],
                [r.agent_name for r in started],
                [r.user_id for r in started],
                [r.started_at for r in started],
                [_j(r.metadata) for r in started],
                [r.resumed_from for r in started],
            )

    async def _handoffs(self, conn: asyncpg.Connection, handoffs: list[AgentHandoff]) -> None:
        await conn.execute(
            INSERT_HANDOFFS,
            [h.event_id for h in handoffs],
            [h.conversation_id for h in handoffs],
            [h.session_id for h in handoffs],
            [h.from_agent for h in handoffs],
            [h.to_agent for h in handoffs],
            [h.reason for h in handoffs],
            [h.at for h in handoffs],
        )

    async def _ends(self, conn: asyncpg.Connection, ends: list[SessionEnded]) -> None:
        await conn.execute(
            END_SESSIONS,
            [e.session_id for e in ends],
            [e.ended_at for e in ends],
            [e.reason for e in ends],
            [e.duration_seconds for e in ends],
            [e.turn_count for e in ends],
            [_j(e.usage) for e in ends],
            [e.started_at for e in ends],
        )

    async def _analyses(self, conn: asyncpg.Connection, analyses: list[SessionAnalyzed]) -> None:
        await conn.execute(
            UPSERT_ANALYSES,
            [a.session_id for a in analyses],
            [a.conversation_id for a in analyses],
            [a.event_id for a in analyses],
            [a.revision for a in analyses],
            [a.status for a in analyses],
            [a.analyzer for a in analyses],
            [a.summary for a in analyses],
            [a.data_schema for a in analyses],
            [_j(a.data) for a in analyses],
            [_j(a.evaluation) for a in analyses],
            [a.failure for a in analyses],
            [a.cost.currency if a.cost else None for a in analyses],
            [a.cost.total if a.cost else None for a in analyses],
            [_j(a.cost) for a in analyses],
            [a.analyzed_at for a in analyses],
        )
