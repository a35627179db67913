"""Housekeeping of the rooms tables: what expires, what stays, and the command that runs one pass."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_rooms import store
from parley_rooms.db import make_engine
from parley_rooms.erasure import erase_conversations
from parley_rooms.models import agent_sessions, erasures, idempotency_keys, participants, rooms, webhook_events
from parley_rooms.ports import NewRoom, SessionFact
from parley_rooms.retention import housekeep

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
async def engine(rooms_db: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(rooms_db, pool_size=2)
    yield eng
    await eng.dispose()


async def _room(engine: AsyncEngine, name: str, created: datetime, **activity: datetime) -> None:
    """A room created at `created`, with optional `finished`, `session_ended` and `participant_left` times."""
    async with engine.begin() as conn:
        await store.insert_room(conn, NewRoom(name, f"conv-{name}", "ada", "parley-agent", {}, "RM", created))
        await store.remember_idempotency_key(conn, f"key-{name}", "h", name, created)
        if "finished" in activity:
            await store.finish_room(conn, name, activity["finished"], "room_finished")
        if "session_ended" in activity:
            await store.merge_session(
                conn,
                [SessionFact(f"s-{name}", f"conv-{name}", room_name=name, started_at=created,
                             ended_at=activity["session_ended"], end_reason="done", duration=1.0)],
            )  # fmt: skip
        await store.participant_joined(conn, name, "ada-phone", "standard", created)
        if "participant_left" in activity:
            await store.participant_left(conn, name, "ada-phone", "standard", activity["participant_left"])


async def _names(engine: AsyncEngine, column: object) -> list[str]:
    async with engine.connect() as conn:
        return sorted(str(v) for v in (await conn.execute(select(column))).scalars())  # type: ignore[call-overload]


async def test_receipts_and_keys_expire_and_rooms_stay_when_retention_is_off(engine: AsyncEngine) -> None:
    await _room(engine, "old", ago(400), finished=ago(399))
    async with engine.begin() as conn:
        await store.first_receipt(conn, "EV_old", "room_finished", ago(8))
        await store.first_receipt(conn, "EV_new", "room_finished", ago(6))
        await store.remember_idempotency_key(conn, "key-fresh", "h", "old", NOW - timedelta(hours=23))
        await store.remember_idempotency_key(conn, "key-stale", "h", "old", NOW - timedelta(hours=25))

    done = await housekeep(engine, retention_days=0, now=NOW)

    assert (done.receipts, done.keys, done.rooms, done.sessions) == (1, 2, 0, 0)  # key-old (400 days) and key-stale
    assert await _names(engine, webhook_events.c.id) == ["EV_new"]
    assert await _names(engine, idempotency_keys.c.key) == ["key-fresh"]
    assert await _names(engine, rooms.c.name) == ["old"]
    assert await housekeep(engine, retention_days=0, now=NOW) == type(done)()  # nothing left to do


async def test_rooms_idle_longer_than_the_retention_go_with_everything_they_hold(engine: AsyncEngine) -> None:
    await _room(engine, "finished-long-ago", ago(60), finished=ago(59), session_ended=ago(59), participant_left=ago(59))
    await _room(engine, "never-used", ago(45))
    await _room(engine, "old-but-called-lately", ago(60), session_ended=ago(5))
    await _room(engine, "participant-lately", ago(60), finished=ago(59), participant_left=ago(2))
    await _room(engine, "recent", ago(3))
    async with engine.begin() as conn:
        await store.merge_session(
            conn,
            [SessionFact("orphan-old", "c", room_name="elsewhere", started_at=ago(40), ended_at=ago(40)),
             SessionFact("orphan-new", "c", started_at=ago(1))],
        )  # fmt: skip
        await erase_conversations(conn, ["conv-never-used"], ago(44))

    done = await housekeep(engine, retention_days=30, now=NOW, batch=1)  # batches of one: the keyset walks on

    assert (done.rooms, done.sessions) == (2, 1)
    kept = ["old-but-called-lately", "participant-lately", "recent"]
    assert await _names(engine, rooms.c.name) == kept
    assert await _names(engine, participants.c.room_name) == kept
    assert await _names(engine, agent_sessions.c.session_id) == ["orphan-new", "s-old-but-called-lately"]
    assert await _names(engine, erasures.c.conversation_id) == ["conv-never-used"]  # ids stay retired


async def test_a_room_a_webhook_holds_is_left_for_the_next_pass(engine: AsyncEngine) -> None:
    await _room(engine, "held", ago(60), finished=ago(59))
    await _room(engine, "free", ago(60), finished=ago(59))
    async with engine.connect() as webhook, webhook.begin():
        assert await store.get_room(webhook, "held", lock=True) is not None  # as a webhook does
        done = await asyncio.wait_for(housekeep(engine, retention_days=30, now=NOW), 10)  # not waiting for it
    assert done.rooms == 1
    assert await _names(engine, rooms.c.name) == ["held"]
    assert (await housekeep(engine, retention_days=30, now=NOW)).rooms == 1


async def test_the_retention_command_runs_one_pass_and_says_what_it_did(engine: AsyncEngine, rooms_db: str) -> None:
    await _room(engine, "old", datetime.now(UTC) - timedelta(days=100), finished=datetime.now(UTC) - timedelta(days=99))
    env = {
        **os.environ,
        "ROOMS_DATABASE_URL": rooms_db,
        "ROOMS_API_KEYS": "k",
        "ROOMS_RETENTION_DAYS": "90",
        "ROOMS_LIVEKIT_URL": "http://127.0.0.1:9",
        "ROOMS_LIVEKIT_API_KEY": "k",
        "ROOMS_LIVEKIT_API_SECRET": "s",
    }
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "parley_rooms", "retention"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "deleted 1 rooms, 0 agent sessions without a room, 0 webhook receipts and 1 idempotency keys" in run.stdout
    assert await _names(engine, rooms.c.name) == []
