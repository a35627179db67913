"""Database plumbing every service shares (no tables here: each service owns its schema).

The async engine with safe defaults, Alembic upgrades of a service's own migrations, and the
classification of errors that mean "Postgres is unavailable, retry later".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import MetaData
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley_runtime.messaging.handling import default_is_transient, default_poison_reason

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")


def run_once(engine: Callable[[], AsyncEngine], chore: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run one chore (a CLI command's work) on a fresh engine, disposed of afterwards."""

    async def run() -> T:
        made = engine()
        try:
            return await chore(made)
        finally:
            await made.dispose()

    return asyncio.run(run())


def async_url(url: str) -> str:
    """Accept `postgresql://` (what the stack and libpq tools use) and select the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


def make_engine(url: str, *, name: str, pool_size: int = 10, statement_timeout_ms: int = 15_000) -> AsyncEngine:
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
            "server_settings": {"statement_timeout": str(statement_timeout_ms), "application_name": name},
        },
    )


def alembic_config(url: str, migrations: Path) -> Config:
    """Alembic's configuration for a service's migrations against one database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def migrate(url: str, migrations: Path) -> None:
    """Upgrade a service's schema to its newest revision (idempotent; its env.py takes an advisory lock)."""
    from alembic import command

    command.upgrade(alembic_config(url, migrations), "head")


# How long a service starting with `migrate_on_start` waits for Postgres to answer (a pod or a compose service
# started before its database, a database still starting) before it gives up.
MIGRATE_WAIT_SECONDS = 60.0


async def migrate_async(url: str, migrations: Path, *, wait_seconds: float = MIGRATE_WAIT_SECONDS) -> None:
    """`migrate`, off the event loop, retried with growing pauses while Postgres is unreachable or starting."""
    deadline = time.monotonic() + wait_seconds
    pause = 0.25
    while True:
        try:
            await asyncio.to_thread(migrate, url, migrations)
            return
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            logger.warning("database unavailable; migrating again shortly", extra={"error": type(exc).__name__})
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)


# SQLSTATEs (or their classes) of "not now, maybe later": a lost or refused connection (08); a read-only
# transaction (25006: a standby, which is what a managed Postgres answers mid-failover); serialization
# failures and deadlocks (40001, 40P01); insufficient resources (53: disk full, out of memory, too many
# connections); a lock not available (55P03); a statement timeout or cancel, and the server shutting down,
# crashed or still starting (57014, 57P01-57P03). Retried, they land once the database recovers; taken for
# bad data, they would be dead-lettered by the thousand, and the consumer would not back off meanwhile.
_TRANSIENT_SQLSTATES = ("08", "25006", "40001", "40P01", "53", "55P03", "57014", "57P01", "57P02", "57P03")


def _is_transient_driver_error(exc: BaseException) -> bool:
    """An asyncpg error raised directly (the write paths that use the driver connection) or wrapped."""
    if not type(exc).__module__.startswith("asyncpg"):
        return False
    if type(exc).__name__ == "InterfaceError" or "Connection" in type(exc).__name__:
        return True  # the client's side of a connection that is gone
    return str(getattr(exc, "sqlstate", None) or "").startswith(_TRANSIENT_SQLSTATES)


def error_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and the errors it wraps: the SQLAlchemy error, the dialect's wrapper, asyncpg's error."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return
        yield seen
        seen = getattr(seen, "orig", None) or seen.__cause__


def postgres_detail(exc: BaseException, name: str) -> str | None:
    """A field of the error Postgres answered with (`sqlstate`, `table_name`...), from asyncpg's error or one
    wrapping it; None for other errors."""
    for seen in error_chain(exc):
        if value := getattr(seen, name, None):
            return str(value)
    return None


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE Postgres answered with; None for other errors."""
    return postgres_detail(exc, "sqlstate")


def is_statement_timeout(exc: BaseException) -> bool:
    """Postgres cancelled the statement (SQLSTATE 57014): `statement_timeout` ran out, or it was cancelled."""
    return sqlstate(exc) == "57014"


# A text PostgreSQL cannot hold: a NUL character in `text` (22021), `\u0000` in `jsonb` (22P05). It comes from
# the caller's input, never from a stored row (the row could not have been stored), so an API answers 400.
UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def is_unstorable_text(exc: BaseException) -> bool:
    """Postgres refused a value because of a character it cannot store (a NUL)."""
    return sqlstate(exc) in UNSTORABLE_TEXT_SQLSTATES


def out_of_range(exc: BaseException) -> OverflowError | None:
    """The driver's `OverflowError` behind `exc`: a value no column type holds (a time that has no UTC
    equivalent, such as 0001-01-01T00:00+14:00, which the contract's RFC 3339 admits)."""
    for seen in error_chain(exc):
        if isinstance(seen, OverflowError):
            return seen
    return None


# Errors in the data itself, which no retry can mend: a data exception (class 22: a character Postgres cannot
# store, a value too long or out of range, a malformed input) or a program limit (class 54: a text whose search
# index would pass tsvector's 1 MB, say). Retried, they fail the same way until `max_deliver` runs out.
_POISON_SQLSTATE_CLASSES = ("22", "54")


def _postgres_error_name(exc: BaseException) -> str:
    """The name of the error in `exc`'s chain that carries Postgres's SQLSTATE (asyncpg's own class)."""
    return next((type(e).__name__ for e in error_chain(exc) if getattr(e, "sqlstate", None)), type(exc).__name__)


def poison_reason(exc: BaseException) -> str | None:
    """For a consumer: why the event can never be stored, or None when a retry may yet succeed.

    A `PoisonError`'s own reason; for data Postgres refuses (SQLSTATE class 22 or 54), a reason naming the error
    and its SQLSTATE only (the message could quote the value, and values are transcripts); for a value the driver
    cannot encode, the driver's message (which quotes none). Such an event goes to the dead-letter stream at
    once, not after `max_deliver` deliveries; the consume loop first retries a failed batch one event at a time,
    so its batch mates land."""
    if (reason := default_poison_reason(exc)) is not None:
        return reason
    if (code := sqlstate(exc)) in UNSTORABLE_TEXT_SQLSTATES:
        return f"rejected by PostgreSQL: a character it cannot store (SQLSTATE {code})"
    # Before the class test: SQLAlchemy's dialect passes the driver's OverflowError on as a DataError (22000).
    if (overflow := out_of_range(exc)) is not None:
        return f"rejected by the database driver: {overflow}"
    if code is not None and code.startswith(_POISON_SQLSTATE_CLASSES):
        return f"rejected by PostgreSQL: {_postgres_error_name(exc)} (SQLSTATE {code})"
    return None


def is_transient(exc: BaseException) -> bool:
    """Errors worth a retry later: the database is unreachable, restarting, read-only (failing over), out of
    disk or memory, timed out or deadlocked."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None and _is_transient_driver_error(exc.orig):
        return True
    if _is_transient_driver_error(exc):
        return True
    cause = exc.__cause__ or exc.__context__
    return default_is_transient(exc) or (cause is not None and cause is not exc and is_transient(cause))


def run_migrations_online(target_metadata: MetaData, schema: str) -> None:
    """The body of a service's Alembic `env.py`: async engine, version table in the service's own schema,
    one migrator at a time (several replicas may start together)."""
    from alembic import context
    from sqlalchemy import text

    config = context.config

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection, target_metadata=target_metadata, version_table_schema=schema, include_schemas=True
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lock))"), {"lock": f"parley:{schema}"})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.run_sync(run)
        await engine.dispose()

    asyncio.run(main())
