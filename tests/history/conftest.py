"""History fixtures: a migrated database, an engine, settings, and event factories."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_history.db import make_engine, migrate_async
from parley_history.settings import Settings

API_KEY = "test-key-123"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
async def history_db(database_url: str) -> str:
    await migrate_async(database_url)
    return database_url


@pytest.fixture
async def engine(history_db: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(history_db, pool_size=4)
    yield eng
    await eng.dispose()


async def stored_rows(engine: AsyncEngine) -> dict[str, list[str]]:
    """The ids of every conversation and session, and `session:seq` of every turn, sorted."""
    async with engine.connect() as conn:
        return {
            "conversations": sorted((await conn.execute(text("SELECT id FROM history.conversations"))).scalars()),
            "sessions": sorted((await conn.execute(text("SELECT id FROM history.sessions"))).scalars()),
            "turns": sorted(
                f"{s}:{n}" for s, n in await conn.execute(text("SELECT session_id, seq FROM history.turns"))
            ),
        }


@pytest.fixture
def settings(history_db: str, nats_url: str) -> Settings:
    return Settings(database_url=history_db, api_keys=API_KEY, nats_url=nats_url, migrate_on_start=False)


def started(conv: str, sess: str, *, user: str | None = "user-1", at: datetime = T0) -> c.SessionStarted:
    return c.SessionStarted(
        event_id=uuid4(),
        occurred_at=at,
        conversation_id=conv,
        session_id=sess,
        producer="test",
        room_name=f"room-{sess}",
        agent_name="parley-agent",
        user_id=user,
        started_at=at,
    )


def joined(conv: str, sess: str, *, at: datetime = T0) -> c.ParticipantJoined:
    """An event history does not store (it only keeps sessions and turns)."""
    return c.ParticipantJoined(
        event_id=uuid4(),
        occurred_at=at,
        conversation_id=conv,
        session_id=sess,
        producer="test",
        identity="caller",
        kind="standard",
        at=at,
    )


def turn(conv: str, sess: str, seq: int, text: str | None = None, *, at: datetime | None = None) -> c.TurnCompleted:
    return c.TurnCompleted(
        event_id=uuid4(),
        occurred_at=at or T0 + timedelta(seconds=seq),
        conversation_id=conv,
        session_id=sess,
        producer="test",
        seq=seq,
        role="user" if seq % 2 else "assistant",
        text=text if text is not None else f"turn {seq} of {sess}",
    )


def ended(conv: str, sess: str, turn_count: int, *, at: datetime | None = None) -> c.SessionEnded:
    end = at or T0 + timedelta(seconds=turn_count + 1)
    return c.SessionEnded(
        event_id=uuid4(),
        occurred_at=end,
        conversation_id=conv,
        session_id=sess,
        producer="test",
        reason="participant_disconnected",
        started_at=T0,
        ended_at=end,
        duration_seconds=(end - T0).total_seconds(),
        turn_count=turn_count,
    )
