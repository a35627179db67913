"""Composition root of the rooms service: `create_app(settings, livekit=None)`.

`livekit` may be injected (tests point the real livekit-api client at a local stand-in through the
settings instead). Events this service publishes go through an outbox, so a NATS outage never fails
an API call; they wait in memory (and on disk past the bound) until NATS is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_rooms import __version__
from parley_rooms.api import WebhookController, rooms_routes
from parley_rooms.consumers import rooms_consumer
from parley_rooms.db import make_engine, migrate_async
from parley_rooms.failover import redispatch_lost_agents
from parley_rooms.livekit import LiveKitGateway
from parley_rooms.ports import Publish
from parley_rooms.retention import housekeep
from parley_rooms.settings import Settings
from parley_rooms.store import SqlRoomStore
from parley_rooms.usecases import RoomsConfig
from parley_runtime.lifecycle import Lifecycle, service_lifespan
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.web.access import RateLimit
from parley_runtime.web.http import build_app
from parley_runtime.web.readiness import nats_check, postgres_check

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    engine: AsyncEngine
    store: SqlRoomStore
    outbox: Outbox
    livekit: LiveKitGateway


def create_app(settings: Settings) -> Litestar:
    rooms_config = RoomsConfig(
        agent_name=settings.agent_name,
        token_ttl_seconds=settings.token_ttl_seconds,
        max_token_ttl_seconds=settings.max_token_ttl_seconds,
        max_active_rooms=settings.max_active_rooms,
        max_active_rooms_per_user=settings.max_active_rooms_per_user,
        empty_timeout=timedelta(seconds=settings.empty_timeout_seconds),
    )

    async def start(life: Lifecycle) -> Runtime:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        life.on_close("postgres", engine.dispose)
        if settings.migrate_on_start:
            await migrate_async(settings.database_url)
        outbox = Outbox(settings.nats, name="rooms", spill_path=settings.outbox_spill).start()
        life.on_close("outbox", lambda: outbox.close(timeout=5))
        rt = Runtime(engine=engine, store=SqlRoomStore(engine), outbox=outbox, livekit=LiveKitGateway(settings))
        life.on_close("livekit", rt.livekit.aclose)
        if settings.run_consumer:
            consumer = partial(rooms_consumer, store=rt.store, replace_metadata=rt.livekit.replace_metadata)
            life.with_nats(settings.nats, lambda nc: consumer(nc).run(life.stop), client_name="rooms-consumer")
        tidy = partial(
            housekeep, engine, retention_days=settings.retention_days, key_hours=settings.idempotency_key_hours
        )
        life.repeat(3600, tidy, what="housekeeping")
        if settings.agent_failover_seconds > 0:
            grace = timedelta(seconds=settings.agent_failover_seconds)
            failover = partial(
                redispatch_lost_agents,
                engine,
                rt.livekit.dispatch_agent,
                grace=grace,
                max_per_room=settings.agent_failover_max,
            )
            # A lost agent is replaced within grace + pace.
            life.repeat(min(5.0, max(1.0, grace.total_seconds() / 3)), failover, what="agent failover")
        return rt

    def runtime(state: State) -> Runtime:
        rt: Runtime = state.runtime
        return rt

    def provide_publish(state: State) -> Publish:
        return runtime(state).outbox.emit

    def provide_store(state: State) -> SqlRoomStore:
        return runtime(state).store

    def provide_livekit(state: State) -> LiveKitGateway:
        return runtime(state).livekit

    def provide_settings() -> Settings:
        return settings

    dependencies = {
        "rooms": Provide(provide_store, sync_to_thread=False),
        "rooms_config": Provide(lambda: rooms_config, sync_to_thread=False),
        "livekit": Provide(provide_livekit, sync_to_thread=False),
        "publish": Provide(provide_publish, sync_to_thread=False),
        "settings": Provide(provide_settings, sync_to_thread=False),
    }
    app = build_app(
        title="Parley rooms",
        version=__version__,
        api_keys=settings.api_key_list,
        rate_limit=RateLimit.parse(settings.rate_limit),
        metrics_keys=settings.metrics_key_list,
        api_handlers=[rooms_routes(settings.max_token_ttl_seconds)],
        public_handlers=[WebhookController],  # LiveKit signs its webhooks instead of sending an API key
        checks={
            "nats": nats_check(lambda: runtime(app.state).outbox.nc),
            "postgres": postgres_check(lambda: runtime(app.state).engine),
        },
        lifespan=service_lifespan("rooms", start),
        dependencies=dependencies,
        max_body_bytes=settings.max_request_body_bytes,
    )
    return app
