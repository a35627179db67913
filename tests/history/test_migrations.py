"""The history schema's migrations, as applied by the service (and the chart's hook Job)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def test_turns_are_vacuumed_at_a_gentle_pace(engine: AsyncEngine) -> None:
    # Without it, an insert-triggered autovacuum of turns floods the WAL and holds back every COMMIT.
    async with engine.connect() as conn:
        options = (
            await conn.execute(text("SELECT reloptions FROM pg_class WHERE oid = 'history.turns'::regclass"))
        ).scalar_one()

    assert "autovacuum_vacuum_cost_delay=10" in (options or [])


async def test_turns_have_no_foreign_key_to_sessions(engine: AsyncEngine) -> None:
    # The store checks sessions once per batch instead (migration 0002).
    async with engine.connect() as conn:
        keys = (
            await conn.execute(
                text("SELECT count(*) FROM pg_constraint WHERE conrelid = 'history.turns'::regclass AND contype = 'f'")
            )
        ).scalar_one()

    assert keys == 0
