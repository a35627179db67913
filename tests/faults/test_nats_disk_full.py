"""NATS out of disk during calls: a real nats-server whose JetStream store sits on a small tmpfs, filled.

nats-server (2.14 on) stops a stream whose disk write failed, and it stays stopped after space is freed, until
the server restarts (its /healthz names the stream meanwhile). Parley must lose nothing through that: the
outbox keeps the events on its own disk and its backlog gauge counts them (the ParleyOutboxBacklog alert), and
once an operator has freed space and restarted NATS every turn is stored once. Mounting a tmpfs needs root;
where that is refused the test is skipped, saying so (`full_disk_room`).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import nats
import pytest

from parley_devstack.nats_server import NatsServer
from parley_devstack.ports import free_port
from parley_devstack.small_disk import fill
from parley_devstack.testing import provisioned
from parley_history.db import migrate_async
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from tests.support.db import count, count_settled
from tests.support.processes import spawn_history

from ..history.conftest import turn

pytestmark = [pytest.mark.fault, pytest.mark.slow]


async def test_a_full_nats_disk_loses_no_turn_and_every_turn_lands_once_after_space_and_a_restart(
    full_disk_room: Path, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="parley_runtime.messaging.outbox")
    server = NatsServer(full_disk_room / "nats", port=free_port(), log_path=tmp_path / "nats.log").start()
    history = None
    outbox = None
    try:
        await provisioned(server.url)
        await migrate_async(database_url)
        history = spawn_history(database_url, server.url, tmp_path / "history.log")
        outbox = Outbox(NatsSettings(url=server.url), name="agent", spill_path=tmp_path / "outbox.jsonl").start()
        events = [turn(f"conv-{i % 10}", f"sess-{i % 10}", i // 10 + 1, "x" * 200) for i in range(2200)]
        for e in events[:200]:
            outbox.emit(e)
        assert await outbox.drain(30)

        filler = fill(full_disk_room)
        for e in events[200:]:  # calls go on, a turn every millisecond
            outbox.emit(e)
            await asyncio.sleep(0.001)
        await asyncio.sleep(2)  # the calls go on while the disk is full
        # A few may still fit the page the store's last block already has; then every write fails.
        assert 200 <= outbox.published < 250 and outbox.dropped == 0
        assert outbox.backlog == len(events) - outbox.published  # what the backlog gauge, and its alert, see
        refused = [r for r in caplog.records if r.getMessage() == "JetStream is not storing events"]
        assert refused and "/healthz" in refused[0].__dict__["error"], refused  # where an operator finds why

        filler.unlink()  # the operator frees space, then restarts NATS
        server.restart()
        assert await outbox.drain(60), outbox.backlog
        assert await count_settled(database_url, "SELECT count(*) FROM history.turns", len(events)) == len(events)
        assert await count(database_url, "SELECT count(DISTINCT event_id) FROM history.turns") == len(events)
        nc = await nats.connect(server.url)
        assert (await nc.jetstream().stream_info("DLQ")).state.messages == 0
        await nc.close()
    finally:
        if outbox is not None:
            await outbox.close()
        if history is not None:
            history.terminate()
            history.wait(20)
        server.stop()
