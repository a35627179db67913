"""History fixtures: a migrated database, an engine, settings, and event factories."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_history.db import make_engine, migrate_async
from parley_history.settings import Settings
from tests.support.events import T0, ended, joined, started, turn

API_KEY = "test-key-123"


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


__all__ = ["API_KEY", "T0", "ended", "joined", "started", "turn"]
