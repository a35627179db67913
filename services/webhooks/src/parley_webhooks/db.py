"""The webhooks service's migrations (the plumbing is parley_runtime.db)."""

from __future__ import annotations

from pathlib import Path

from parley_runtime import db

MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(url: str) -> None:
    db.migrate(url, MIGRATIONS)


async def migrate_async(url: str) -> None:
    await db.migrate_async(url, MIGRATIONS)
