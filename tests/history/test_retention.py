"""Retention in real Postgres: old transcripts go, newer ones and resumed conversations stay, writers recover."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_history.handlers import persist
from parley_history.retention import purge_expired
from parley_history.store import SqlHistoryStore
from parley_runtime.messaging.handling import TransientError

from .conftest import T0, ended, started, stored_rows, turn

NOW = T0 + timedelta(days=40)  # retention of 30 days: T0 is past the cutoff, NOW - 1 day is not


async def _call(store: SqlHistoryStore, conv: str, sess: str, turns: int, *, days_ago: float) -> None:
    at = NOW - timedelta(days=days_ago)
    events: list[c.AnyEvent] = [started(conv, sess, at=at)]
    events += [turn(conv, sess, n, at=at + timedelta(seconds=n)) for n in range(1, turns + 1)]
    ended_event = ended(conv, sess, turns, at=at + timedelta(seconds=turns + 1))
    await persist([*events, ended_event], store)


async def test_old_conversations_are_deleted_whole_and_recent_ones_kept(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await _call(store, "old", "old-s1", 3, days_ago=40)
    await _call(store, "recent", "recent-s1", 2, days_ago=1)
    # A conversation resumed today keeps today's session and loses only what is older than the cutoff.
    await _call(store, "resumed", "resumed-s1", 2, days_ago=35)
    await _call(store, "resumed", "resumed-s2", 2, days_ago=0.5)

    purged = await purge_expired(engine, days=30, now=NOW, batch=1)  # a batch per conversation
    rows = await stored_rows(engine)
    assert rows["conversations"] == ["recent", "resumed"]
    assert rows["sessions"] == ["recent-s1", "resumed-s2"]
    assert rows["turns"] == ["recent-s1:1", "recent-s1:2", "resumed-s2:1", "resumed-s2:2"]
    assert (purged.conversations, purged.sessions, purged.turns) == (1, 2, 5)
    assert (await purge_expired(engine, days=30, now=NOW)).turns == 0


async def test_zero_days_keeps_everything(engine: AsyncEngine) -> None:
    await _call(SqlHistoryStore(engine), "old", "old-s1", 2, days_ago=400)
    purged = await purge_expired(engine, days=0, now=NOW)
    assert purged.turns == 0 and (await stored_rows(engine))["turns"] == ["old-s1:1", "old-s1:2"]


async def test_a_writer_that_remembered_a_purged_conversation_writes_it_again(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)  # its KnownRows remembers the conversation and session it wrote
    await _call(store, "c1", "s1", 2, days_ago=40)
    await purge_expired(engine, days=30, now=NOW)
    assert (await stored_rows(engine))["conversations"] == []
    # The caller comes back in the same conversation: a new session, then a turn of the old one replayed.
    await _call(store, "c1", "s2", 1, days_ago=0)
    late = turn("c1", "s1", 3, at=NOW)
    with pytest.raises(TransientError):  # the session it remembered is gone: it forgets, and is retried
        await persist([late], store)
    await persist([late], store)  # as the consume loop redelivers it
    rows = await stored_rows(engine)
    assert rows["conversations"] == ["c1"]
    assert rows["sessions"] == ["s1", "s2"]
    assert rows["turns"] == ["s1:3", "s2:1"]


async def test_sessions_known_only_from_their_turns_are_judged_by_their_turns(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)  # no session_started or session_ended ever arrived for these
    await persist([turn("old", "old-s1", 1, at=NOW - timedelta(days=50))], store)
    await persist([turn("new", "new-s1", 1, at=NOW - timedelta(days=1))], store)
    purged = await purge_expired(engine, days=30, now=NOW)
    assert (purged.conversations, purged.sessions, purged.turns) == (1, 1, 1)
    assert await stored_rows(engine) == {"conversations": ["new"], "sessions": ["new-s1"], "turns": ["new-s1:1"]}


async def test_the_retention_command_purges_and_says_what_it_did(engine: AsyncEngine, history_db: str) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=100)
    await persist([turn("c1", "s1", 1, at=long_ago), turn("c1", "s1", 2, at=long_ago)], SqlHistoryStore(engine))
    env = {**os.environ, "HISTORY_DATABASE_URL": history_db, "HISTORY_API_KEYS": "k", "HISTORY_RETENTION_DAYS": "90"}
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "parley_history", "retention"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "purged 1 conversations, 1 sessions and 2 turns older than 90 days" in run.stdout
    assert (await stored_rows(engine))["turns"] == []
