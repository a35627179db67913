"""Each service's migrations build exactly the tables, columns and indexes its SQLAlchemy models declare.

The models are what the code queries; the migrations are what production runs. Alembic's autogenerate
comparison, run against the migrated database, lists every difference.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from parley_runtime.db import async_url


@pytest.mark.parametrize("service", ["history", "rooms", "recordings"])
async def test_migrations_build_what_the_models_declare(service: str, database_url: str) -> None:
    db = importlib.import_module(f"parley_{service}.db")
    models = importlib.import_module(f"parley_{service}.models")
    metadata: MetaData = models.metadata
    await db.migrate_async(database_url)

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda name, kind, _: kind != "schema" or name == metadata.schema,
                "compare_type": True,
            },
        )
        return list(compare_metadata(context, metadata))

    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
    finally:
        await engine.dispose()
    ignored = {"alembic_version"}
    left = [d for d in differences if not (d[0] == "remove_table" and d[1].name in ignored)]
    assert left == [], "\n".join(map(str, left))
