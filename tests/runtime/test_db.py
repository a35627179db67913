"""Which database errors the consume loop retries later (transient) and which it does not."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from parley_runtime.db import is_transient


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
