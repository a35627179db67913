"""One worker stores a session at a time, with real Postgres (its advisory lock) and real blob storage.

Two workers on one session arise when a delivery is handed to another replica while the first still works on
it (a worker cut off from NATS, so its progress acks stop). The two can build different transcripts of it: one
settled for the turns history had, the other got them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace

import msgspec
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_recordings.blobs import BlobStore
from parley_recordings.handlers import Blobs, Deps, SessionBusy, store_session
from parley_recordings.repo import Recording
from parley_recordings.settings import Settings

from .conftest import handler_deps, session_ended

pytestmark = pytest.mark.parametrize("backend", ["file"])  # the lock is Postgres's; one kind of storage will do


class Worker:
    """One worker's blob writes, interleaved the worst way with another's: the first to write a JSON transcript
    waits (up to a second) until the other has written its own; the other then holds its row back a moment,
    so the first records a row over the object the other just overwrote."""

    def __init__(self, blobs: Blobs, *, first: bool, writing: asyncio.Event, wrote: asyncio.Event) -> None:
        self.blobs, self.first, self.writing, self.wrote = blobs, first, writing, wrote

    def __getattr__(self, name: str) -> object:
        return getattr(self.blobs, name)

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        if self.first:
            self.writing.set()
        await self.blobs.put(key, data, content_type)
        if not key.endswith("/transcript.json"):
            return
        if self.first:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self.wrote.wait()
        else:
            self.wrote.set()
            await asyncio.sleep(0.3)  # the second worker holds on, as a slow write would


def workers(deps: Deps) -> tuple[Deps, Deps, asyncio.Event]:
    """Two workers' dependencies, and the event set once the first has begun writing."""
    writing, wrote = asyncio.Event(), asyncio.Event()
    first, second = (Worker(deps.blobs, first=f, writing=writing, wrote=wrote) for f in (True, False))
    return replace(deps, blobs=first), replace(deps, blobs=second), writing  # type: ignore[arg-type]


async def _sha256(deps: Deps, rec: Recording) -> str:
    assert isinstance(deps.blobs, BlobStore)
    chunks = [chunk async for chunk in await deps.blobs.open_range(rec.key, 0, rec.bytes)]
    return hashlib.sha256(b"".join(chunks)).hexdigest()


async def test_a_second_worker_on_a_session_backs_off_and_every_row_describes_its_object(
    settings: Settings, nats_url: str
) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    whole = session_ended(None)
    settled = msgspec.structs.replace(whole, messages=whole.messages[:1])  # the same session, a turn short
    one, other, writing = workers(deps)
    first = asyncio.create_task(store_session(settled, one))
    await writing.wait()
    try:
        second: object = await store_session(whole, other)
    except SessionBusy as exc:
        second = exc
    stored = await first
    rows = await deps.repo.for_session(whole.session_id)
    assert sorted(r.id for r in rows) == sorted(r.id for r in stored) and len(rows) == 2
    for rec in rows:
        assert await _sha256(deps, rec) == rec.sha256, rec.format
    assert isinstance(second, SessionBusy), second
    # Redelivered once the first is done: the session is stored, nothing is written again.
    assert sorted(await store_session(whole, deps), key=str) == sorted(stored, key=str)
    for rec in rows:
        assert await _sha256(deps, rec) == rec.sha256, rec.format
    await nc.close()
    await engine.dispose()


async def test_workers_on_different_sessions_do_not_wait_for_each_other(settings: Settings, nats_url: str) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    one, other, writing = workers(deps)
    first = asyncio.create_task(store_session(session_ended(None), one))
    await writing.wait()
    second = await store_session(session_ended(None), other)  # stored while the first holds its own session
    assert len(second) == 2 and len(await first) == 2
    await nc.close()
    await engine.dispose()


_END_LOCK_HOLDERS = text(
    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
)


class LockKiller:
    """Blob writes that, at the first, end the database connection holding the session's lock (as a dropped
    connection or an `idle_in_transaction_session_timeout` would), then carry on."""

    def __init__(self, blobs: BlobStore, engine: AsyncEngine) -> None:
        self.blobs, self.engine, self.killed = blobs, engine, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.blobs, name)

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        if not self.killed:
            async with self.engine.connect() as conn:
                self.killed = len((await conn.execute(_END_LOCK_HOLDERS)).all())
        await self.blobs.put(key, data, content_type)


async def test_a_store_that_lost_its_session_lock_fails_and_its_redelivery_finds_the_session_stored(
    settings: Settings, nats_url: str
) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    event = session_ended(None)
    killer = LockKiller(deps.blobs, engine)
    with pytest.raises(DBAPIError):  # not acked: the store ran unprotected for a while, so it is done again
        await store_session(event, replace(deps, blobs=killer))
    assert killer.killed == 1
    stored = await store_session(event, deps)  # the redelivery
    rows = await deps.repo.for_session(event.session_id)
    assert len(rows) == 2 and sorted(r.id for r in rows) == sorted(r.id for r in stored)
    for rec in rows:
        assert await _sha256(deps, rec) == rec.sha256, rec.format
    await nc.close()
    await engine.dispose()
