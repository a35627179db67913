"""Driving the history consumer over real JetStream in tests: publish, consume until drained, count rows."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import nats
from litestar import Litestar
from nats.aio.client import Client
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_devstack.testing import provisioned
from parley_history.app import create_app
from parley_history.consumers import history_consumer
from parley_history.db import migrate_async
from parley_history.models import turns
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from parley_runtime.messaging.consume import Consumer
from tests.support import eventually

from .conftest import API_KEY


async def publish_all(url: str, events: Sequence[tuple[c.Event, str]]) -> None:
    """Publish (event, Nats-Msg-Id) pairs with a bounded window of in-flight acks."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    window = 256
    for start in range(0, len(events), window):
        futures = [
            js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": msg_id})
            for e, msg_id in events[start : start + window]
        ]
        await asyncio.gather(*futures)
    await nc.close()


async def wait_drained(url: str, durable: str, timeout: float = 120) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()

    async def drained() -> bool:
        info = await js.consumer_info("VOICE", durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    try:
        await eventually(drained, timeout=timeout, interval=0.2, what=f"the {durable} consumer to drain")
    finally:
        await nc.close()


async def consume_until_drained(nc: Client, engine: AsyncEngine, nats_url: str) -> Consumer:
    """Run the history consumer until the durable has nothing pending; returns it for its stats."""
    consumer = history_consumer(nc, SqlHistoryStore(engine), batch_size=100)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await wait_drained(nats_url, "history", timeout=30)
    stop.set()
    await task
    return consumer


async def count_turns(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(turns))).scalar_one())


async def consuming_app(database_url: str, nats_url: str, **overrides: Any) -> Litestar:
    """History on a migrated database and provisioned streams, its consumer on (no recent service): the app
    the fault tests run while they take a dependency away. `overrides` are further settings."""
    await migrate_async(database_url)
    await provisioned(nats_url)
    settings = Settings(
        database_url=database_url, api_keys=API_KEY, nats_url=nats_url, migrate_on_start=False,
        run_recent_service=False, **overrides,
    )  # fmt: skip
    return create_app(settings)
