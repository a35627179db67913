"""Composition root of the rooms service: `create_app(settings, livekit=None)`.

`livekit` may be injected (tests point the real livekit-api client at a local stand-in through the
settings instead). Events this service publishes go through an outbox, so a NATS outage never fails
an API call; they wait in memory (and on disk past the bound) until NATS is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_rooms import __version__
from parley_rooms.api import RoomsController, WebhookController
from parley_rooms.consumers import rooms_consumer
from parley_rooms.db import make_engine, migrate_async
from parley_rooms.failover import redispatch_lost_agents
from parley_rooms.livekit import LiveKitGateway
from parley_rooms.retention import housekeep
from parley_rooms.settings import Settings
from parley_rooms.webhooks import Publish
from parley_runtime.connection import connect
from parley_runtime.http import build_app
from parley_runtime.outbox import Outbox
from parley_runtime.periodic import every
from parley_runtime.readiness import nats_check, postgres_check

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    engine: AsyncEngine
    outbox: Outbox
    livekit: LiveKitGateway
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    consuming: bool = False  # connected: the consumer may hold a batch to finish at shutdown


def create_app(settings: Settings) -> Litestar:
    async def consume(rt: Runtime) -> None:
        nc = await connect(settings.nats, name="rooms-consumer", retry_initial=True)
        rt.consuming = True
        try:
            await rooms_consumer(nc, rt.engine, rt.livekit.replace_metadata).run(rt.stop)
        finally:
            await nc.drain()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        if settings.migrate_on_start:
            await migrate_async(settings.database_url)
        outbox = Outbox(settings.nats, name="rooms", spill_path=settings.outbox_spill).start()
        rt = Runtime(engine=engine, outbox=outbox, livekit=LiveKitGateway(settings))
        app.state.runtime = rt
        consumer_task = asyncio.create_task(consume(rt), name="rooms-consumer") if settings.run_consumer else None
        if consumer_task is not None:
            rt.tasks.append(consumer_task)
        tidy = partial(
            housekeep, engine, retention_days=settings.retention_days, key_hours=settings.idempotency_key_hours
        )
        rt.tasks.append(asyncio.create_task(every(3600, rt.stop, tidy, what="housekeeping"), name="rooms-housekeeping"))
        if settings.agent_failover_seconds > 0:
            grace = timedelta(seconds=settings.agent_failover_seconds)
            failover = partial(
                redispatch_lost_agents,
                engine,
                rt.livekit.dispatch_agent,
                grace=grace,
                max_per_room=settings.agent_failover_max,
            )
            pace = min(5.0, max(1.0, grace.total_seconds() / 3))  # a lost agent is replaced within grace + pace
            rt.tasks.append(
                asyncio.create_task(every(pace, rt.stop, failover, what="agent failover"), name="rooms-agent-failover")
            )
        try:
            yield
        finally:
            rt.stop.set()
            if consumer_task is not None and not rt.consuming:  # still waiting for NATS: no reason to wait
                consumer_task.cancel()
            _, pending = await asyncio.wait(rt.tasks, timeout=20) if rt.tasks else (set(), set())
            for task in pending:
                task.cancel()
            await outbox.close(timeout=5)
            with contextlib.suppress(Exception):
                await rt.livekit.aclose()
            await engine.dispose()

    def runtime(state: State) -> Runtime:
        rt: Runtime = state.runtime
        return rt

    def provide_publish(state: State) -> Publish:
        return runtime(state).outbox.emit

    def provide_engine(state: State) -> AsyncEngine:
        return runtime(state).engine

    def provide_livekit(state: State) -> LiveKitGateway:
        return runtime(state).livekit

    def provide_settings() -> Settings:
        return settings

    dependencies = {
        "engine": Provide(provide_engine, sync_to_thread=False),
        "livekit": Provide(provide_livekit, sync_to_thread=False),
        "publish": Provide(provide_publish, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
    }
    app = build_app(
        title="Parley rooms",
        version=__version__,
        api_keys=settings.api_key_list,
        metrics_keys=settings.metrics_key_list,
        api_handlers=[RoomsController],
        public_handlers=[WebhookController],  # LiveKit signs its webhooks instead of sending an API key
        checks={
            "nats": nats_check(lambda: runtime(app.state).outbox.nc),
            "postgres": postgres_check(lambda: runtime(app.state).engine),
        },
        lifespan=lifespan,
        dependencies=dependencies,
        max_body_bytes=settings.max_request_body_bytes,
    )
    return app
