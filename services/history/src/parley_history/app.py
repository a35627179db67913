"""Composition root of the history service: `create_app(settings)` wires everything, reads nothing global.

The API serves from Postgres even while NATS is down; the consumer and the `history.v1.recent`
responder start as soon as NATS answers, and `/ready` tells which dependencies are up.
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
from nats.aio.client import Client
from nats.micro.service import Service
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
from parley_runtime.connection import connect
from parley_runtime.consume import Consumer
from parley_runtime.entries import publish_event
from parley_runtime.http import build_app
from parley_runtime.periodic import every
from parley_runtime.readiness import nats_check, postgres_check

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the lifespan starts, for readiness and orderly shutdown."""

    engine: AsyncEngine
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    nc: Client | None = None
    consumer: Consumer | None = None
    store: SqlHistoryStore | None = None  # the consumer's, with its memory of written rows
    micro: Service | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    erasure_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    lost_wakeup: asyncio.Event = field(default_factory=asyncio.Event)  # a session resumed a lost one


def create_app(settings: Settings) -> Litestar:
    async def start_messaging(rt: Runtime) -> None:
        rt.nc = await connect(settings.nats, name="history", retry_initial=True)
        if settings.run_recent_service:
            rt.micro = await start_request_service(
                rt.nc, rt.engine, version=__version__, timeout=settings.recent_timeout_seconds
            )
        rt.tasks.append(
            asyncio.create_task(run_propagation(rt.engine, rt.nc, rt.stop, rt.erasure_wakeup), name="history-erasures")
        )
        if settings.session_timeout_minutes > 0:
            publish = partial(publish_event, rt.nc.jetstream(timeout=5.0), timeout=5.0)
            timeout = timedelta(minutes=settings.session_timeout_minutes)
            end_lost = partial(end_lost_sessions, rt.engine, publish, timeout=timeout)
            # Every 5 minutes: a lost call ends within the timeout and 5 minutes (sooner for a shorter timeout).
            pace = min(300.0, timeout.total_seconds() / 4)
            rt.tasks.append(
                asyncio.create_task(
                    every(pace, rt.stop, end_lost, what="lost sessions", wakeup=rt.lost_wakeup),
                    name="history-lost-sessions",
                )
            )
        if settings.run_consumer:
            store = rt.store = SqlHistoryStore(rt.engine, KnownRows(settings.known_rows_max), rt.lost_wakeup.set)
            watch = dead_letter_watch(rt.nc, store)
            rt.tasks.append(asyncio.create_task(watch.run(rt.stop), name="history-dlq-watch"))
            rt.consumer = history_consumer(
                rt.nc,
                store,
                batch_size=settings.batch_size,
                concurrency=settings.consumer_concurrency,
            )
            await rt.consumer.run(rt.stop)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        if settings.migrate_on_start:
            await migrate_async(settings.database_url)
        rt = Runtime(engine=engine)
        app.state.runtime = rt
        messaging = asyncio.create_task(start_messaging(rt), name="history-messaging")
        rt.tasks.append(messaging)
        if settings.retention_days > 0:
            purge = partial(purge_expired, engine, days=settings.retention_days)
            rt.tasks.append(
                asyncio.create_task(every(3600, rt.stop, purge, what="retention"), name="history-retention")
            )
        try:
            yield
        finally:
            rt.stop.set()
            if rt.nc is None:  # still waiting for NATS: nothing in hand, so no reason to wait
                messaging.cancel()
            # The consumer finishes (and acks) the batch in hand; unacked ones are redelivered anyway.
            done, pending = await asyncio.wait(rt.tasks, timeout=20)
            for task in pending:
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception():
                    logger.error("messaging task failed", exc_info=task.exception())
            if rt.micro is not None:
                with contextlib.suppress(Exception):
                    await rt.micro.stop()
            if rt.nc is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(rt.nc.drain(), timeout=5)
            await engine.dispose()

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
        metrics_keys=settings.metrics_key_list,
        api_handlers=[HistoryController],
        checks={
            "nats": nats_check(lambda: runtime(app.state).nc),
            "postgres": postgres_check(lambda: runtime(app.state).engine),
        },
        lifespan=lifespan,
        dependencies={
            "engine": Provide(provide_engine, sync_to_thread=False),
            "conn": Provide(provide_conn),
            "erasure_wakeup": Provide(provide_wakeup, sync_to_thread=False),
            "search_timeout": Provide(lambda: settings.search_timeout_seconds, sync_to_thread=False),
        },
        max_body_bytes=settings.max_request_body_bytes,
    )
    return app
