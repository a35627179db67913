"""Faults with real processes, each ending with the database checked: every turn stored exactly once.

(The history consumer SIGKILLed mid-stream and Postgres stopped under load are in tests/history.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import nats
import pytest

import parley_contracts as c
from parley_devstack.nats_server import NatsServer
from parley_history.db import migrate_async
from parley_runtime.messaging.dlq import REASON_HEADER
from parley_runtime.messaging.provision import ProvisionSettings, provision
from tests.history.helpers import wait_drained
from tests.support.db import count, count_settled
from tests.support.processes import spawn_history

from ..history.conftest import turn

pytestmark = [pytest.mark.fault, pytest.mark.slow]


async def _provision(url: str, settings: ProvisionSettings | None = None) -> None:
    nc = await nats.connect(url)
    await provision(nc.jetstream(), settings)
    await nc.close()


def _agent(nats_url: str, state: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENT_NATS_URL": nats_url,
        "AGENT_PROVIDERS": "offline",
        "AGENT_STATE_DIR": str(state),
        "AGENT_PORT": "0",
        "AGENT_DRAIN_TIMEOUT_SECONDS": "5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "parley_agent", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(state.parent / "agent.log").open("ab"),
    )


async def test_nats_sigkilled_during_calls_loses_no_turn(
    embedded_nats: NatsServer, database_url: str, tmp_path: Path
) -> None:
    await _provision(embedded_nats.url)
    await migrate_async(database_url)
    history = spawn_history(database_url, embedded_nats.url, tmp_path / "history.log")
    state = tmp_path / "agent"
    try:
        calls = _agent(embedded_nats.url, state, "simulate", "-n", "3", "--exit")
        await asyncio.sleep(1.5)  # the calls are under way
        embedded_nats.kill()
        await asyncio.sleep(2.0)  # NATS stays down for 2 s while the calls go on
        embedded_nats.start()  # same store dir and port
        assert calls.wait(120) == 0
        flush = _agent(embedded_nats.url, state, "flush")  # whatever a finished call left on disk
        assert flush.wait(60) == 0
        turns = await count_settled(database_url, "SELECT count(*) FROM history.turns", 21)
        assert turns == 21  # three calls of seven turns: a greeting and the script
        assert await count(database_url, "SELECT count(DISTINCT session_id) FROM history.turns") == 3
        ended = await count_settled(database_url, "SELECT count(*) FROM history.sessions WHERE ended_at IS NOT NULL", 3)
        assert ended == 3
    finally:
        history.terminate()
        history.wait(20)


async def test_a_poison_message_among_good_ones_lands_in_the_dlq_with_its_reason(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    await _provision(nats_url)
    await migrate_async(database_url)
    history = spawn_history(database_url, nats_url, tmp_path / "history.log")
    copier = subprocess.Popen(
        [sys.executable, "-m", "parley_runtime.cli", "dlq-copier"], env={**os.environ, "PARLEY_NATS_URL": nats_url}
    )
    try:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        good = [turn("conv-p", "sess-p", seq) for seq in range(1, 41)]
        for e in good[:20]:
            await js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": str(e.event_id)})
        await js.publish(
            "voice.turn_completed.v1.conv-p",
            b'{"type":"turn_completed.v1","seq":-1}',
            headers={"Nats-Msg-Id": "poison-1"},
        )
        for e in good[20:]:
            await js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": str(e.event_id)})
        dead = await (await js.subscribe("dlq.>", stream="DLQ", ordered_consumer=True)).next_msg(timeout=30)
        assert dead.subject == "dlq.voice.turn_completed.v1.conv-p"
        assert dead.headers is not None and dead.headers[REASON_HEADER].startswith("undecodable:")
        assert dead.data == b'{"type":"turn_completed.v1","seq":-1}'
        await nc.close()
        assert await count_settled(database_url, "SELECT count(*) FROM history.turns", 40) == 40
    finally:
        for proc in (history, copier):
            proc.terminate()
            proc.wait(20)


async def test_the_same_turn_published_twice_outside_the_dedup_window_is_stored_once(
    nats_url: str, database_url: str, tmp_path: Path
) -> None:
    await _provision(nats_url, ProvisionSettings(duplicate_window_seconds=1))
    await migrate_async(database_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    event = turn("conv-d", "sess-d", 1)
    headers = {"Nats-Msg-Id": str(event.event_id)}
    await js.publish(c.subject_for(event), c.encode(event), headers=headers)
    await asyncio.sleep(1.5)  # the window has passed: JetStream stores the retry again
    again = await js.publish(c.subject_for(event), c.encode(event), headers=headers)
    assert not again.duplicate
    assert (await js.stream_info("VOICE")).state.messages == 2
    await nc.close()
    history = spawn_history(database_url, nats_url, tmp_path / "history.log")
    try:
        await wait_drained(nats_url, "history", timeout=60)
        assert await count_settled(database_url, "SELECT count(*) FROM history.turns", 1) == 1
    finally:
        history.terminate()
        history.wait(20)
