"""Database plumbing: the async engine, migrations, and which errors mean "Postgres is unavailable"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley_runtime.consume import default_is_transient

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Accept `postgresql://` (what the stack and libpq tools use) and select the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def make_engine(url: str, *, pool_size: int = 10, statement_timeout_ms: int = 15_000) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=5,
        # Error messages must never carry parameters: they hold transcript text.
        hide_parameters=True,
        connect_args={
            "timeout": 5,
            "command_timeout": statement_timeout_ms / 1000,
            "server_settings": {"statement_timeout": str(statement_timeout_ms), "application_name": "history"},
        },
    )


def migrate(url: str) -> None:
    """Upgrade the `history` schema to the newest revision (idempotent, serialised by an advisory lock)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    command.upgrade(config, "head")


async def migrate_async(url: str) -> None:
    await asyncio.to_thread(migrate, url)


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry later: the database is unreachable, restarting, or timed out."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        name = type(exc.orig).__name__
        # asyncpg's connection-level failures and "the database system is starting up / shutting down".
        if "Connection" in name or "CannotConnectNow" in name or "AdminShutdown" in name:
            return True
    cause = exc.__cause__ or exc.__context__
    return default_is_transient(exc) or (cause is not None and cause is not exc and default_is_transient(cause))
