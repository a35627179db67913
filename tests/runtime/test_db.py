"""Which database errors the consume loop retries later (transient), which it dead-letters at once (poison),
and which it retries until `max_deliver` runs out."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from parley_runtime.db import is_transient, is_unstorable_text, poison_reason
from parley_runtime.messaging.handling import PoisonError


def _wrapped(orig: Exception) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("INSERT ...", None, orig)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.exceptions.DiskFullError("could not extend file: No space left on device"),
        asyncpg.exceptions.OutOfMemoryError("out of memory"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.SerializationError("could not serialize access due to concurrent update"),
        asyncpg.exceptions.LockNotAvailableError("could not obtain lock on row"),
        _wrapped(asyncpg.exceptions.DiskFullError("could not extend file")),
        asyncpg.InterfaceError("connection is closed"),
        _wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
        ConnectionResetError(),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_unavailable_or_racing_database_is_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        asyncpg.exceptions.ForeignKeyViolationError("violates foreign key constraint"),
        asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence for encoding UTF8: 0x00"),
        asyncpg.exceptions.UndefinedTableError('relation "history.turns" does not exist'),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table turns"),
        _wrapped(asyncpg.exceptions.DataError("invalid input syntax")),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_bad_data_and_bugs_are_not_transient(error: Exception) -> None:
    assert not is_transient(error)


def test_error_caused_by_a_lost_connection_is_transient() -> None:
    outer = RuntimeError("write failed")
    outer.__cause__ = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    assert is_transient(outer)


async def test_a_text_postgres_cannot_store_is_poison_and_its_reason_quotes_no_value(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as text_error:
            await conn.execute("SELECT $1::text", "secret\x00words")
        with pytest.raises(asyncpg.PostgresError) as jsonb_error:
            await conn.execute("SELECT $1::jsonb", '{"said": "secret\\u0000words"}')
    finally:
        await conn.close()
    for error in (text_error.value, _wrapped(text_error.value), jsonb_error.value):
        assert is_unstorable_text(error)
        reason = poison_reason(error)
        assert reason is not None and "cannot store" in reason and "secret" not in reason
    assert poison_reason(PoisonError("bad seq")) == "bad seq"


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (asyncpg.exceptions.StringDataRightTruncationError('value too long: "secret"'), "(SQLSTATE 22001)"),
        (_wrapped(asyncpg.exceptions.InvalidTextRepresentationError('input "secret"')), "(SQLSTATE 22P02)"),
        (asyncpg.exceptions.ProgramLimitExceededError("string is too long for tsvector"), "(SQLSTATE 54000)"),
    ],
    ids=lambda e: type(e).__name__ if isinstance(e, Exception) else "",
)
def test_data_postgres_refuses_is_poison_and_named_by_its_error_not_its_message(error: Exception, named: str) -> None:
    reason = poison_reason(error)
    assert reason is not None and reason.endswith(named) and "secret" not in reason
    assert "Error" in reason  # asyncpg's class names the error, even through SQLAlchemy's wrapper


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate"),
        asyncpg.exceptions.UndefinedTableError('relation "history.turns" does not exist'),
        asyncpg.exceptions.InsufficientPrivilegeError("permission denied for table turns"),
        _wrapped(asyncpg.exceptions.DeadlockDetectedError("deadlock detected")),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_a_fix_or_a_retry_may_mend_are_not_poison(error: Exception) -> None:
    assert poison_reason(error) is None  # retried, then dead-lettered once max_deliver runs out
