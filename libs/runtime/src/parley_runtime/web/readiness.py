"""Readiness checks for `/ready`: is NATS connected, does Postgres answer. Each takes a getter, because the
connection is made in the lifespan, after the app (and its routes) exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


def nats_check(client: Callable[[], Client | None]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        nc = client()
        return nc is not None and nc.is_connected

    return check


def postgres_check(engine: Callable[[], AsyncEngine]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with engine().connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check
