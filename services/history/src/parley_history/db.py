"""The history service's database: its engine, its migrations (shared plumbing in parley_runtime.db), and
the driver connection its set-based statements run on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_runtime import db
from parley_runtime.db import is_transient, poison_reason

MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = [
    "MIGRATIONS", "driver_connection", "is_transient", "make_engine", "migrate", "migrate_async", "poison_reason",
    "rows_affected",
]  # fmt: skip


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return db.make_engine(url, name="history", pool_size=pool_size)


def migrate(url: str) -> None:
    db.migrate(url, MIGRATIONS)


async def migrate_async(url: str) -> None:
    await db.migrate_async(url, MIGRATIONS)


@asynccontextmanager
async def driver_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection as asyncpg itself, for COPY and plain statements SQLAlchemy need not parse.

    The pool cannot see a transaction opened on the driver connection: one left open (a cancelled
    rollback) or a dead link is invalidated instead of going back to the pool.
    """
    async with engine.connect() as sa_conn:
        conn: asyncpg.Connection = (await sa_conn.get_raw_connection()).driver_connection
        try:
            yield conn
        except BaseException:
            if conn.is_closed() or conn.is_in_transaction():
                await sa_conn.invalidate()
            raise


def rows_affected(status: str) -> int:
    """The row count of a command status such as `DELETE 5`."""
    return int(status.rsplit(" ", 1)[-1])
