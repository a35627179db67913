"""The read side: conversations, sessions, turns and search, as msgspec structs.

Pagination is keyset-based with opaque cursors (stable under concurrent inserts), except search,
which is ranked and pages by offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import and_, func, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from parley_history.models import conversations, handoffs, sessions, turns
from parley_runtime.web.cursors import cursor_int, cursor_text, cursor_time, decode_cursor, encode_cursor


class Turn(msgspec.Struct, kw_only=True, omit_defaults=True):
    event_id: str
    conversation_id: str
    session_id: str
    seq: int
    role: Literal["user", "assistant"]
    text: str
    interrupted: bool
    occurred_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    language: str | None = None
    metrics: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    agent: str | None = None  # which of the session's agents spoke (or listened)
    # The caller's words: [{word, start, end}], seconds from `started_at` (when the recognizer timed them).
    words: list[dict[str, Any]] | None = None
    # What the agent masked in `text`: [{type, start, end}], the mask's place in `text`; never the value.
    redactions: list[dict[str, Any]] | None = None


class Handoff(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One agent of the session handing the conversation to another."""

    event_id: str
    from_agent: str | None = None
    to_agent: str
    reason: str | None = None
    at: datetime


class Session(msgspec.Struct, kw_only=True):
    id: str
    conversation_id: str
    room_name: str | None
    agent_name: str | None
    user_id: str | None
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    duration_seconds: float | None
    expected_turns: int | None
    stored_turns: int
    incomplete: bool
    status: str
    resumed_from: str | None = None  # the session of an earlier attempt at the same job, whose agent was lost
    usage: dict[str, Any] | None = None  # the session's totals, as its `session_ended` reported them


class Conversation(msgspec.Struct, kw_only=True):
    id: str
    user_id: str | None
    started_at: datetime
    last_activity_at: datetime


def _turn(row: Any) -> Turn:
    m = row._mapping
    return Turn(
        event_id=str(m["event_id"]),
        conversation_id=m["conversation_id"],
        session_id=m["session_id"],
        seq=m["seq"],
        role=m["role"],
        text=m["text"],
        interrupted=m["interrupted"],
        occurred_at=m["occurred_at"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        language=m["language"],
        metrics=m["metrics"],
        usage=m["usage"],
        agent=m["agent"],
        words=m["words"],
        redactions=m["redactions"],
    )


def _session(row: Any) -> Session:
    m = row._mapping
    stored, expected = m["stored_turns"], m["expected_turns"]
    status = "ended" if m["ended_at"] is not None else ("active" if m["started_at"] is not None else "pending")
    return Session(
        id=m["id"],
        conversation_id=m["conversation_id"],
        room_name=m["room_name"],
        agent_name=m["agent_name"],
        user_id=m["user_id"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        end_reason=m["end_reason"],
        duration_seconds=m["duration_seconds"],
        expected_turns=m["expected_turns"],
        stored_turns=stored,
        incomplete=expected is not None and stored < expected,
        status=status,
        resumed_from=m["resumed_from"],
        usage=m["usage"],
    )


_TURN_COLUMNS = [c for c in turns.c if c.name not in ("tsv", "stored_at")]
_STORED_TURNS = select(func.count()).where(turns.c.session_id == sessions.c.id).scalar_subquery().label("stored_turns")


async def list_conversations(
    conn: AsyncConnection, *, user_id: str | None, limit: int, cursor: str | None
) -> tuple[list[Conversation], str | None]:
    """Newest first (by first activity); `cursor` continues after the last row of the previous page."""
    q = select(conversations).order_by(conversations.c.started_at.desc(), conversations.c.id.desc())
    if user_id is not None:
        q = q.where(conversations.c.user_id == user_id)
    if cursor:
        at, cid = decode_cursor(cursor, 2)
        q = q.where(tuple_(conversations.c.started_at, conversations.c.id) < tuple_(cursor_time(at), cursor_text(cid)))
    rows = (await conn.execute(q.limit(limit + 1))).all()
    items = [Conversation(**dict(r._mapping)) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1].started_at, items[-1].id) if len(rows) > limit else None
    return items, next_cursor


async def get_conversation(conn: AsyncConnection, conversation_id: str) -> tuple[Conversation, list[Session]] | None:
    row = (await conn.execute(select(conversations).where(conversations.c.id == conversation_id))).first()
    if row is None:
        return None
    q = (
        select(sessions, _STORED_TURNS)
        .where(sessions.c.conversation_id == conversation_id)
        .order_by(sessions.c.started_at.asc().nulls_last(), sessions.c.id)
    )
    return Conversation(**dict(row._mapping)), [_session(r) for r in (await conn.execute(q)).all()]


async def list_turns(
    conn: AsyncConnection, *, conversation_id: str, limit: int, before: str | None
) -> tuple[list[Turn], str | None]:
    """The `limit` most recent turns before `before`, returned oldest first; the cursor pages further back."""
    q = select(*_TURN_COLUMNS).where(turns.c.conversation_id == conversation_id)
    if before:
        at, seq, session_id = decode_cursor(before, 3)
        key = tuple_(turns.c.occurred_at, turns.c.seq, turns.c.session_id)
        q = q.where(key < tuple_(cursor_time(at), cursor_int(seq), cursor_text(session_id)))
    q = q.order_by(turns.c.occurred_at.desc(), turns.c.seq.desc(), turns.c.session_id.desc()).limit(limit + 1)
    rows = (await conn.execute(q)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]._mapping
        next_cursor = encode_cursor(last["occurred_at"], last["seq"], last["session_id"])
    return [_turn(r) for r in reversed(page)], next_cursor


async def recent_turns(conn: AsyncConnection, conversation_id: str, limit: int) -> list[Turn]:
    """The agent's seed: the last `limit` turns of a conversation, oldest first."""
    items, _ = await list_turns(conn, conversation_id=conversation_id, limit=limit, before=None)
    return items


async def user_recent_turns(conn: AsyncConnection, user_id: str, limit: int) -> list[Turn]:
    """What the agent remembers of a caller across calls: the last `limit` turns of the user's conversations (the
    most recently active ones), oldest first."""
    recent = (
        select(conversations.c.id)
        .where(conversations.c.user_id == user_id)
        .order_by(conversations.c.last_activity_at.desc())
        .limit(limit)
        .scalar_subquery()
    )
    q = (
        select(*_TURN_COLUMNS)
        .where(turns.c.conversation_id.in_(recent))
        .order_by(turns.c.occurred_at.desc(), turns.c.seq.desc())
        .limit(limit)
    )
    return [_turn(r) for r in reversed((await conn.execute(q)).all())]


async def session_handoffs(conn: AsyncConnection, session_id: str) -> list[Handoff]:
    q = select(handoffs).where(handoffs.c.session_id == session_id).order_by(handoffs.c.at)
    return [
        Handoff(event_id=str(r.event_id), from_agent=r.from_agent, to_agent=r.to_agent, reason=r.reason, at=r.at)
        for r in (await conn.execute(q)).all()
    ]


async def turns_before(conn: AsyncConnection, session_id: str, before_seq: int, limit: int) -> list[Turn]:
    """Up to `limit` turns of a session numbered below `before_seq`, newest first."""
    q = (
        select(*_TURN_COLUMNS)
        .where(turns.c.session_id == session_id, turns.c.seq < before_seq)
        .order_by(turns.c.seq.desc())
        .limit(limit)
    )
    return [_turn(r) for r in (await conn.execute(q)).all()]


async def get_session(conn: AsyncConnection, session_id: str) -> tuple[Session, list[Turn]] | None:
    row = (await conn.execute(select(sessions, _STORED_TURNS).where(sessions.c.id == session_id))).first()
    if row is None:
        return None
    q = select(*_TURN_COLUMNS).where(turns.c.session_id == session_id).order_by(turns.c.seq)
    return _session(row), [_turn(r) for r in (await conn.execute(q)).all()]


class SearchHit(msgspec.Struct, kw_only=True):
    turn: Turn
    rank: float


async def search_turns(
    conn: AsyncConnection,
    *,
    query: str,
    user_id: str | None,
    conversation_id: str | None,
    limit: int,
    offset: int,
    timeout_seconds: float,
) -> tuple[list[SearchHit], int | None]:
    """Full-text search over turn text, best match first, cancelled by Postgres after `timeout_seconds`
    (ranking reads every matching turn, so its cost grows with the matches, not with `limit`)."""
    timeout_ms = str(max(1, round(timeout_seconds * 1000)))
    # Both for this transaction only. A custom plan each time: the driver prepares statements, and after five
    # runs Postgres may keep a generic plan, made without the words or the conversation. For one
    # conversation that plan reads every turn holding the word through the search index (60-170 ms over
    # 1.5 million turns) instead of the conversation's few turns (1-2 ms).
    await conn.execute(
        select(
            func.set_config("statement_timeout", timeout_ms, True),
            func.set_config("plan_cache_mode", "force_custom_plan", True),
        )
    )
    tsq = func.websearch_to_tsquery(literal_column("'simple'"), query)
    rank = func.ts_rank_cd(turns.c.tsv, tsq).label("rank")
    q = select(*_TURN_COLUMNS, rank).where(turns.c.tsv.op("@@")(tsq))
    if conversation_id is not None:
        q = q.where(turns.c.conversation_id == conversation_id)
    if user_id is not None:
        q = q.join(conversations, and_(conversations.c.id == turns.c.conversation_id)).where(
            conversations.c.user_id == user_id
        )
    q = q.order_by(rank.desc(), turns.c.occurred_at.desc(), turns.c.session_id, turns.c.seq)
    q = q.offset(offset).limit(limit + 1)
    rows = (await conn.execute(q)).all()
    hits = [SearchHit(turn=_turn(r), rank=float(r._mapping["rank"])) for r in rows[:limit]]
    return hits, (offset + limit if len(rows) > limit else None)
