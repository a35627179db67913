"""Composition root of the history service: `create_app(settings)` wires everything, reads nothing global.

The API serves from Postgres even while NATS is down; the consumer and the `history.v1.recent`
responder start as soon as NATS answers, and `/ready` tells which dependencies are up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_history import __version__
from parley_history.api import HistoryController, provide_conn
from parley_history.consumers import dead_letter_watch, history_consumer
from parley_history.db import make_engine, migrate_async
from parley_history.known import KnownRows
from parley_history.lost_sessions import end_lost_sessions
from parley_history.propagation import run_propagation
from parley_history.request_reply import start_request_service
from parley_history.retention import purge_expired
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from parley_history.usage_api import UsageController
from parley_runtime.lifecycle import Lifecycle, service_lifespan
from parley_runtime.messaging.consume import Consumer
from parley_runtime.messaging.entries import publish_event
from parley_runtime.web.access import RateLimit
from parley_runtime.web.http import build_app
from parley_runtime.web.readiness import nats_check, postgres_check


@dataclass
class Runtime:
    """What the service holds while it runs: for readiness and the API's dependencies."""

    engine: AsyncEngine
    nc: Client | None = None
    store: SqlHistoryStore | None = None  # the consumer's, with its memory of written rows
    consumer: Consumer | None = None
    erasure_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    lost_wakeup: asyncio.Event = field(default_factory=asyncio.Event)  # a session resumed a lost one


def create_app(settings: Settings) -> Litestar:
    async def start_messaging(life: Lifecycle, rt: Runtime, nc: Client) -> None:
        rt.nc = nc
        if settings.run_recent_service:
            micro = await start_request_service(
                nc, rt.engine, version=__version__, timeout=settings.recent_timeout_seconds
            )
            life.on_close("history.v1 service", micro.stop)
        life.spawn(run_propagation(rt.engine, nc, life.stop, rt.erasure_wakeup), name="erasures")
        if settings.session_timeout_minutes > 0:
            publish = partial(publish_event, nc.jetstream(timeout=5.0), timeout=5.0)
            timeout = timedelta(minutes=settings.session_timeout_minutes)
            end_lost = partial(end_lost_sessions, rt.engine, publish, timeout=timeout)
            # Every 5 minutes: a lost call ends within the timeout and 5 minutes (sooner for a shorter timeout).
            life.repeat(min(300.0, timeout.total_seconds() / 4), end_lost, what="lost sessions", wakeup=rt.lost_wakeup)
        if settings.run_consumer:
            store = rt.store = SqlHistoryStore(rt.engine, KnownRows(settings.known_rows_max), rt.lost_wakeup.set)
            life.spawn(dead_letter_watch(nc, store).run(life.stop), name="dlq-watch")
            consumer = rt.consumer = history_consumer(
                nc, store, batch_size=settings.batch_size, concurrency=settings.consumer_concurrency
            )
            await consumer.run(life.stop)

    async def start(life: Lifecycle) -> Runtime:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        life.on_close("postgres", engine.dispose)
        if settings.migrate_on_start:
            await migrate_async(settings.database_url)
        rt = Runtime(engine=engine)
        life.with_nats(settings.nats, partial(start_messaging, life, rt), client_name="history")
        if settings.retention_days > 0:
            life.repeat(3600, partial(purge_expired, engine, days=settings.retention_days), what="retention")
        return rt

    def runtime(state: State) -> Runtime:
        rt: Runtime = state.runtime
        return rt

    def provide_engine(state: State) -> AsyncEngine:
        return runtime(state).engine

    def provide_wakeup(state: State) -> asyncio.Event:
        return runtime(state).erasure_wakeup

    app = build_app(
        title="Parley history",
        version=__version__,
        api_keys=settings.api_key_list,
        rate_limit=RateLimit.parse(settings.rate_limit),
        metrics_keys=settings.metrics_key_list,
        api_handlers=[HistoryController, UsageController],
        checks={
            "nats": nats_check(lambda: runtime(app.state).nc),
            "postgres": postgres_check(lambda: runtime(app.state).engine),
        },
        lifespan=service_lifespan("history", start),
        dependencies={
            "engine": Provide(provide_engine, sync_to_thread=False),
            "conn": Provide(provide_conn),
            "erasure_wakeup": Provide(provide_wakeup, sync_to_thread=False),
            "search_timeout": Provide(lambda: settings.search_timeout_seconds, sync_to_thread=False),
        },
        max_body_bytes=settings.max_request_body_bytes,
    )
    return app
