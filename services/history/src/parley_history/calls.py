"""The call log: one row per conversation with what a person scanning calls wants to see at once.

Each row sums the conversation's sessions (how many, how long, how many turns stored) and takes its status from
the latest session: `live` (started, not ended), `agent_lost` (ended by history for an agent that vanished),
`ended`, or `pending` (no session has started yet). Filters: the user, a time range on the conversation's start,
and the status. Newest first, paged by keyset like every other list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import Float, Select, case, cast, func, literal, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from parley_history.models import conversations, sessions, turns
from parley_runtime.web.cursors import cursor_text, cursor_time, decode_cursor, encode_cursor

CallStatus = Literal["live", "ended", "agent_lost", "pending"]


class Call(msgspec.Struct, kw_only=True):
    conversation_id: str
    user_id: str | None
    started_at: datetime
    last_activity_at: datetime
    sessions: int
    turns: int
    duration_seconds: float | None  # the sessions' durations summed (a live session counts from its start)
    status: CallStatus
    latest_session_id: str | None


class CallFilter(msgspec.Struct, kw_only=True):
    user_id: str | None = None
    since: datetime | None = None  # conversations that started at or after
    until: datetime | None = None  # ... and before
    status: CallStatus | None = None


def _latest_session() -> Any:
    s = sessions.alias("latest")
    return (
        select(s.c.id, s.c.started_at, s.c.ended_at, s.c.end_reason)
        .where(s.c.conversation_id == conversations.c.id)
        .order_by(s.c.started_at.desc().nulls_last(), s.c.id.desc())
        .limit(1)
        .lateral("latest")
    )


def _status(latest: Any) -> Any:
    return case(
        (latest.c.started_at.is_(None), literal("pending")),
        (latest.c.ended_at.is_(None), literal("live")),
        (latest.c.end_reason == "agent_lost", literal("agent_lost")),
        else_=literal("ended"),
    )


def _query(f: CallFilter) -> tuple[Select[Any], Any]:
    latest = _latest_session()
    live_seconds = cast(func.extract("epoch", func.now() - sessions.c.started_at), Float)
    totals = (
        select(
            func.count().label("sessions"),
            func.sum(func.coalesce(sessions.c.duration_seconds, live_seconds)).label("duration_seconds"),
        )
        .where(sessions.c.conversation_id == conversations.c.id)
        .lateral("totals")
    )
    stored = select(func.count()).where(turns.c.conversation_id == conversations.c.id).scalar_subquery()
    status = _status(latest)
    q = (
        select(
            conversations.c.id.label("conversation_id"),
            conversations.c.user_id,
            conversations.c.started_at,
            conversations.c.last_activity_at,
            totals.c.sessions,
            stored.label("turns"),
            totals.c.duration_seconds,
            status.label("status"),
            latest.c.id.label("latest_session_id"),
        )
        .select_from(conversations)
        .join(latest, true(), isouter=True)
        .join(totals, true())
    )
    if f.user_id is not None:
        q = q.where(conversations.c.user_id == f.user_id)
    if f.since is not None:
        q = q.where(conversations.c.started_at >= f.since)
    if f.until is not None:
        q = q.where(conversations.c.started_at < f.until)
    if f.status is not None:
        q = q.where(status == f.status)
    return q, status


async def list_calls(
    conn: AsyncConnection, f: CallFilter, *, limit: int, cursor: str | None
) -> tuple[list[Call], str | None]:
    """Newest first (by the conversation's start); `cursor` continues after the previous page's last row."""
    q, _ = _query(f)
    if cursor:
        at, cid = decode_cursor(cursor, 2)
        q = q.where(tuple_(conversations.c.started_at, conversations.c.id) < tuple_(cursor_time(at), cursor_text(cid)))
    q = q.order_by(conversations.c.started_at.desc(), conversations.c.id.desc()).limit(limit + 1)
    rows = (await conn.execute(q)).all()
    items = [Call(**{str(k): v for k, v in r._asdict().items()}) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1].started_at, items[-1].conversation_id) if len(rows) > limit else None
    return items, next_cursor
