"""Counting rows in a service's database from a test, by plain SQL over its own connection."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.support import eventually


async def count(database_url: str, sql: str) -> int:
    """The single number `sql` (a `SELECT count(...)`) gives."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def count_settled(database_url: str, sql: str, expected: int, timeout: float = 90) -> int:
    """The count `sql` gives once it reached `expected`, and again a second later, when a late duplicate would
    have shown; as it is after `timeout` if it never did (the caller's assertion says how many there were)."""

    async def reached() -> bool:
        return await count(database_url, sql) >= expected

    try:
        await eventually(reached, timeout=timeout, interval=0.2, what=sql)
    except AssertionError:
        return await count(database_url, sql)
    await asyncio.sleep(1.0)  # not a wait for a condition: the time in which a duplicate would still arrive
    return await count(database_url, sql)
