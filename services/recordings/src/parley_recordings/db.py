"""The recordings service's database: its engine and its migrations (shared plumbing in parley_runtime.db)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from parley_runtime import db

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return db.make_engine(url, name="recordings", pool_size=pool_size)


def migrate(url: str) -> None:
    db.migrate(url, MIGRATIONS)


async def migrate_async(url: str) -> None:
    await db.migrate_async(url, MIGRATIONS)
