"""The history schema's migrations, as applied by the service (and the chart's hook Job)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_devstack.ports import free_port
from parley_devstack.testing import tcp_forwarder
from parley_history.db import MIGRATIONS
from parley_runtime.db import alembic_config, migrate_async


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


async def test_ids_compare_byte_by_byte(engine: AsyncEngine) -> None:
    # Under the database's default collation every index comparison of an id would go through strcoll.
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                    "WHERE table_schema = 'history' AND column_name IN ('id', 'session_id', 'conversation_id', "
                    "'user_id') ORDER BY table_name, column_name"
                )
            )
        ).all()

    assert [(t, c) for t, c, _ in rows] == [
        ("conversations", "id"), ("conversations", "user_id"), ("erasures", "conversation_id"),
        ("handoffs", "conversation_id"), ("handoffs", "session_id"),
        ("session_analyses", "conversation_id"), ("session_analyses", "session_id"),
        ("sessions", "conversation_id"), ("sessions", "id"), ("sessions", "user_id"),
        ("turns", "conversation_id"), ("turns", "session_id"),
    ]  # fmt: skip
    assert {collation for _, _, collation in rows} == {"C"}


def _alembic(url: str, action: str, revision: str) -> None:
    getattr(command, action)(alembic_config(url, MIGRATIONS), revision)


async def test_byte_by_byte_ids_keep_the_rows_and_keys_of_an_existing_database(database_url: str) -> None:
    await asyncio.to_thread(_alembic, database_url, "upgrade", "0003")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO history.conversations VALUES ('conv-é', 'user-1', now(), now());"
            "INSERT INTO history.sessions (id, conversation_id) VALUES ('sess-1', 'conv-é');"
            "INSERT INTO history.turns (event_id, conversation_id, session_id, seq, role, text, occurred_at) "
            "VALUES (gen_random_uuid(), 'conv-é', 'sess-1', 1, 'user', 'hello', now())"
        )
        await asyncio.to_thread(_alembic, database_url, "upgrade", "head")

        turn = await conn.fetchrow("SELECT conversation_id, session_id FROM history.turns WHERE seq = 1")
        assert (turn["conversation_id"], turn["session_id"]) == ("conv-é", "sess-1")
        with pytest.raises(asyncpg.ForeignKeyViolationError):  # the session's key to its conversation holds
            await conn.execute("INSERT INTO history.sessions (id, conversation_id) VALUES ('sess-2', 'nowhere')")
        with pytest.raises(asyncpg.UniqueViolationError):  # and so does the turn's primary key
            await conn.execute(
                "INSERT INTO history.turns (event_id, conversation_id, session_id, seq, role, text, occurred_at) "
                "VALUES (gen_random_uuid(), 'conv-é', 'sess-1', 1, 'user', 'again', now())"
            )

        await asyncio.to_thread(_alembic, database_url, "downgrade", "0003")
        collation = await conn.fetchval(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_schema = 'history' AND table_name = 'turns' AND column_name = 'session_id'"
        )
        assert collation is None  # the database's default again
        assert await conn.fetchval("SELECT count(*) FROM history.turns") == 1
    finally:
        await conn.close()


async def test_migrating_at_start_waits_for_a_database_that_is_not_up_yet(database_url: str) -> None:
    # Postgres answers on a port nobody listens on for its first 1.5 s: a pod started before its database.
    target = urlsplit(database_url)
    port = free_port()

    async def open_late() -> asyncio.Server:
        await asyncio.sleep(1.5)  # the database's late start
        return await tcp_forwarder(str(target.hostname), int(target.port or 5432), listen_port=port)

    opening = asyncio.create_task(open_late())
    late_url = database_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{port}")
    await migrate_async(late_url, MIGRATIONS, wait_seconds=30)
    (await opening).close()
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('history.turns') IS NOT NULL")
    finally:
        await conn.close()


async def test_migrating_at_start_gives_up_once_the_wait_is_over() -> None:
    nobody = f"postgresql://parley@127.0.0.1:{free_port()}/parley"
    with pytest.raises(OSError):
        await migrate_async(nobody, MIGRATIONS, wait_seconds=1)
