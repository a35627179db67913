"""Faults with real processes: a consumer SIGKILLed mid-stream (alone, and one of two replicas sharing the
stream), Postgres down under load.

Each ends with every turn stored exactly once.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import nats
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_devstack.ports import free_port
from parley_devstack.postgres_server import PostgresServer
from parley_devstack.testing import metric_total
from parley_history.app import Runtime
from parley_history.db import make_engine
from parley_runtime.messaging.provision import ProvisionSettings, provision
from tests.support import eventually
from tests.support.processes import spawn_history

from .conftest import API_KEY, ended, started, turn
from .helpers import consuming_app, count_turns, publish_all, wait_drained

pytestmark = [pytest.mark.fault, pytest.mark.slow]


async def _at_least(engine: AsyncEngine, n: int) -> int:
    """The turns stored, once there are at least `n` (0 before)."""
    stored = await count_turns(engine)
    return stored if stored >= n else 0


async def test_history_consumer_sigkilled_mid_stream_loses_and_duplicates_nothing(
    history_db: str, nats_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_url)
    # A short ack_wait so the killed replica's unacked batch comes back within seconds.
    await provision(nc.jetstream(), ProvisionSettings(ack_wait_seconds=3))
    await nc.close()
    events = [turn(f"conv-{i % 50}", f"sess-{i % 50}", i // 50 + 1) for i in range(20_000)]
    await publish_all(nats_url, [(e, str(e.event_id)) for e in events])
    engine = make_engine(history_db, pool_size=2)

    proc = spawn_history(history_db, nats_url, tmp_path / "history.log")
    stored = await eventually(lambda: _at_least(engine, 4000), timeout=60, what="4,000 turns stored")
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert stored < 20_000, "the kill must land mid-stream"

    restarted = spawn_history(history_db, nats_url, tmp_path / "history.log")
    try:
        await wait_drained(nats_url, "history", timeout=120)
        assert await count_turns(engine) == 20_000
    finally:
        restarted.terminate()
        restarted.wait(20)
        await engine.dispose()


async def _ready(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200
    except httpx.HTTPError:
        return False


async def _processed(port: int) -> int:
    """Events one history process has handled, from its own /metrics (0 until it answers)."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            body = (
                await client.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
            ).text
    except httpx.HTTPError:
        return 0
    return int(metric_total(body, "parley_events_processed_total"))


async def test_two_replicas_share_the_stream_and_one_sigkilled_leaves_each_turn_stored_once(
    history_db: str, nats_url: str, tmp_path: Path
) -> None:
    """The chart runs two history replicas on one durable: the same sessions reach both at once."""
    nc = await nats.connect(nats_url)
    await provision(nc.jetstream(), ProvisionSettings(ack_wait_seconds=3))
    sessions, turns = 50, 20_000
    events: list[c.Event] = [started(f"conv-{s}", f"sess-{s}") for s in range(sessions)]
    events += [turn(f"conv-{i % sessions}", f"sess-{i % sessions}", i // sessions + 1) for i in range(turns)]
    events += [ended(f"conv-{s}", f"sess-{s}", turns // sessions) for s in range(sessions)]
    engine = make_engine(history_db, pool_size=2)
    ports = [free_port(), free_port()]
    replicas = [spawn_history(history_db, nats_url, tmp_path / f"history-{i}.log", port=p) for i, p in enumerate(ports)]
    try:
        # Both pull before anything is published: one replica starting late could otherwise find the
        # other done with the whole stream.
        async def both_pulling() -> bool:
            return all([await _ready(p) for p in ports]) and (
                (await nc.jetstream().consumer_info("VOICE", "history")).num_waiting >= 2
            )

        await eventually(both_pulling, timeout=60, what="both replicas pulling")

        async def publish_steadily() -> None:  # ~4,000 turns/s: two replicas drain faster than that
            for start in range(0, len(events), 1000):
                await publish_all(nats_url, [(e, str(e.event_id)) for e in events[start : start + 1000]])
                await asyncio.sleep(0.2)

        publishing = asyncio.create_task(publish_steadily())

        async def both_at_work() -> int:
            stored = await count_turns(engine)
            return stored if stored >= 4000 and min([await _processed(p) for p in ports]) > 0 else 0

        stored = await eventually(both_at_work, timeout=60, what="4,000 turns stored by both replicas")
        replicas[0].send_signal(signal.SIGKILL)  # its batches in hand come back to the other after ack_wait
        replicas[0].wait(10)
        assert stored < turns and not publishing.done(), "the kill must land mid-stream"
        await publishing

        await wait_drained(nats_url, "history", timeout=120)
        assert await count_turns(engine) == turns
        async with engine.connect() as conn:
            distinct = await conn.scalar(text("SELECT count(DISTINCT event_id) FROM history.turns"))
            done = await conn.scalar(
                text("SELECT count(*) FROM history.sessions WHERE ended_at IS NOT NULL AND room_name IS NOT NULL")
            )
        assert distinct == turns
        assert done == sessions  # every session got its start and its end, whichever replica wrote which
        assert (await nc.jetstream().stream_info("DLQ")).state.messages == 0  # no deadlock or conflict dead-lettered
    finally:
        for replica in replicas:
            replica.terminate()
            replica.wait(20)
        await engine.dispose()
        await nc.close()


async def test_postgres_down_naks_with_growing_delays_and_everything_lands_when_it_is_back(
    own_postgres: PostgresServer, nats_url: str
) -> None:
    url = own_postgres.url("parley")
    app = await consuming_app(url, nats_url)
    async with AsyncTestClient(app=app) as client:
        events = [turn(f"conv-{i % 20}", f"sess-{i % 20}", i // 20 + 1) for i in range(3000)]
        await publish_all(nats_url, [(e, str(e.event_id)) for e in events[:1000]])
        own_postgres.stop()  # under load: the consumer is busy with the first thousand
        await publish_all(nats_url, [(e, str(e.event_id)) for e in events[1000:]])  # and more keep coming
        await asyncio.sleep(20)  # an outage of 20 s under load, not a wait for a condition
        rt: Runtime = app.state.runtime
        assert rt.consumer is not None
        stats = rt.consumer.stats
        assert (await client.get("/ready")).status_code == 503
        assert stats.transient_failures >= 2
        # Growing pauses: a 20 s outage costs a handful of deliveries, far from max_deliver (40).
        assert stats.max_num_delivered <= 12, stats
        assert stats.terminated == 0

        own_postgres.start()
        await wait_drained(nats_url, "history", timeout=120)
        engine = make_engine(url, pool_size=1)
        assert await count_turns(engine) == 3000
        await engine.dispose()
        assert (await client.get("/ready")).status_code == 200
    nc = await nats.connect(nats_url)
    assert (await nc.jetstream().stream_info("DLQ")).state.messages == 0
    await nc.close()


async def _read_only(database_url: str, on: bool) -> None:
    """Make the database answer like a standby (or a primary again), and drop every session of it, as a
    managed Postgres's failover does: the pool reconnects to what the address now serves."""
    name = database_url.rsplit("/", 1)[1]
    engine = make_engine(database_url.rsplit("/", 1)[0] + "/postgres", pool_size=1)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
        await conn.execute(text(f'ALTER DATABASE "{name}" {setting}'))
        await conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": name},
        )
    await engine.dispose()


async def test_a_read_only_database_mid_failover_is_retried_not_dead_lettered(database_url: str, nats_url: str) -> None:
    app = await consuming_app(database_url, nats_url)
    async with AsyncTestClient(app=app) as client:
        await _read_only(database_url, True)
        events = [turn(f"conv-{i % 10}", f"sess-{i % 10}", i // 10 + 1) for i in range(500)]
        await publish_all(nats_url, [(e, str(e.event_id)) for e in events])
        await asyncio.sleep(8)  # a failover of 8 s, not a wait for a condition
        rt: Runtime = app.state.runtime
        assert rt.consumer is not None
        stats = rt.consumer.stats
        assert stats.transient_failures >= 1 and stats.acked == 0, stats
        assert stats.terminated == 0, stats  # not taken for bad data
        assert stats.max_num_delivered <= 6, stats  # backing off, not hammering a standby
        reads = await client.get("/v1/conversations", headers={"Authorization": f"Bearer {API_KEY}"})
        assert reads.status_code == 200  # a standby still serves what it holds

        await _read_only(database_url, False)
        await wait_drained(nats_url, "history", timeout=120)
        engine = make_engine(database_url, pool_size=1)
        assert await count_turns(engine) == 500
        await engine.dispose()
    nc = await nats.connect(nats_url)
    assert (await nc.jetstream().stream_info("DLQ")).state.messages == 0
    await nc.close()
