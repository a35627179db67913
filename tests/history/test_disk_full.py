"""Postgres out of disk under load: a real server on a small tmpfs, filled until it refuses to grow its files.

Turns keep coming meanwhile. They must be retried with growing pauses (the "insufficient resources" class,
53xxx, is transient), never dead-lettered as bad data, and every one must land once space is freed. Mounting
a tmpfs needs root (CAP_SYS_ADMIN); where that is refused the test is skipped, saying so (`full_disk_room`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from litestar.testing import AsyncTestClient

from parley_devstack.postgres_server import PostgresServer
from parley_devstack.small_disk import fill
from parley_history.app import Runtime
from parley_history.db import make_engine

from .conftest import API_KEY, turn
from .helpers import consuming_app, count_turns, publish_all, wait_drained

pytestmark = [pytest.mark.fault, pytest.mark.slow]


async def test_postgres_out_of_disk_is_retried_not_dead_lettered_and_every_turn_lands_once_space_is_freed(
    full_disk_room: Path, nats_url: str, tmp_path: Path
) -> None:
    pg = PostgresServer(full_disk_room / "pg", log_path=tmp_path / "pg.log").start()
    try:
        pg.create_database("parley")
        url = pg.url("parley")
        app = await consuming_app(url, nats_url)
        words = " ".join(f"word{i}" for i in range(60))  # ~500 bytes a turn, indexed for search
        events = [turn(f"conv-{i % 50}", f"sess-{i % 50}", i // 50 + 1, words) for i in range(20_000)]
        async with AsyncTestClient(app=app) as client:
            await publish_all(nats_url, [(e, str(e.event_id)) for e in events[:1000]])
            await wait_drained(nats_url, "history", timeout=60)
            filler = fill(full_disk_room)
            await publish_all(nats_url, [(e, str(e.event_id)) for e in events[1000:]])
            await asyncio.sleep(15)  # 15 s of a full disk, not a wait for a condition
            rt: Runtime = app.state.runtime
            assert rt.consumer is not None
            stats = rt.consumer.stats
            log = (tmp_path / "pg.log").read_text(errors="replace")
            assert "could not extend file" in log and "No space left on device" in log  # it really was full
            assert "PANIC" not in log
            reads = await client.get("/v1/conversations", headers={"Authorization": f"Bearer {API_KEY}"})
            assert reads.status_code == 200 and reads.json()["items"]  # a full disk still serves what it holds
            assert stats.transient_failures >= 1, stats
            assert stats.terminated == 0, stats  # not taken for bad data
            assert stats.max_num_delivered <= 10, stats  # backing off, far from max_deliver (40)

            filler.unlink()
            await wait_drained(nats_url, "history", timeout=180)
            engine = make_engine(url, pool_size=1)
            assert await count_turns(engine) == len(events)
            await engine.dispose()
        nc = await nats.connect(nats_url)
        assert (await nc.jetstream().stream_info("DLQ")).state.messages == 0
        await nc.close()
    finally:
        pg.kill()
