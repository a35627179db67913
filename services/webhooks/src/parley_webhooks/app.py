"""Composition root of the webhooks service: `create_app(settings)`.

The API serves from Postgres while NATS is down (a test message, a replay and the log need no NATS); the
consumer starts when NATS answers; the dispatcher sends whatever Postgres holds, whatever NATS does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_runtime import db
from parley_runtime.lifecycle import Lifecycle, service_lifespan
from parley_runtime.web.access import RateLimit
from parley_runtime.web.http import build_app
from parley_runtime.web.readiness import nats_check, postgres_check
from parley_webhooks import __version__, intake
from parley_webhooks.admin import Admin
from parley_webhooks.api import EndpointsController
from parley_webhooks.consumers import webhooks_consumer
from parley_webhooks.crypto import SecretBox
from parley_webhooks.db import MIGRATIONS
from parley_webhooks.delivery import Dispatcher
from parley_webhooks.links import RecordingLinks
from parley_webhooks.settings import Settings
from parley_webhooks.store import SqlWebhookStore
from parley_webhooks.targets import transport


@dataclass
class Runtime:
    engine: AsyncEngine
    store: SqlWebhookStore
    admin: Admin
    dispatcher: Dispatcher
    nc: Client | None = None


def create_app(settings: Settings) -> Litestar:
    box = SecretBox(settings.secret_key)
    report_wait = timedelta(seconds=settings.report_wait_seconds)

    async def start(life: Lifecycle) -> Runtime:
        engine = db.make_engine(settings.database_url, name="webhooks", pool_size=settings.db_pool_size)
        life.on_close("postgres", engine.dispose)
        if settings.migrate_on_start:
            await db.migrate_async(settings.database_url, MIGRATIONS)
        sender = httpx.AsyncClient(
            transport=transport(allow_private=settings.allow_private_targets, max_connections=settings.concurrency),
            follow_redirects=False,  # a redirect is a failed delivery, and could lead anywhere
        )
        life.on_close("endpoints' client", sender.aclose)
        links = None
        if settings.recordings_url and settings.recordings_key:
            client = httpx.AsyncClient(base_url=settings.recordings_url, timeout=10,
                                       headers={"Authorization": f"Bearer {settings.recordings_key}"})  # fmt: skip
            life.on_close("recordings client", client.aclose)
            links = RecordingLinks(client, seconds=settings.link_seconds)
        store = SqlWebhookStore(engine)
        dispatcher = Dispatcher(
            engine, sender, box, timeout=settings.timeout_seconds, concurrency=settings.concurrency,
            per_endpoint=settings.per_endpoint_concurrency,
            disable_after=timedelta(hours=settings.disable_after_hours), schedule=settings.retry_schedule,
        )  # fmt: skip
        rt = Runtime(engine, store, Admin(engine, box), dispatcher)
        life.spawn(dispatcher.run(life.stop), name="dispatcher")

        async def due_reports() -> None:
            if await intake.send_ready_reports(store, datetime.now(UTC), links):
                dispatcher.wakeup.set()

        life.repeat(min(30.0, max(1.0, settings.report_wait_seconds / 4)), due_reports, what="due reports")

        async def consume(nc: Client) -> None:
            rt.nc = nc
            consumer = webhooks_consumer(
                nc, store, batch_size=settings.batch_size, report_wait=report_wait, links=links,
                on_queued=dispatcher.wakeup.set,
            )  # fmt: skip
            await consumer.run(life.stop)

        life.with_nats(settings.nats, consume, client_name="webhooks")
        return rt

    def runtime(state: State) -> Runtime:
        rt: Runtime = state.runtime
        return rt

    def provide_admin(state: State) -> Admin:
        return runtime(state).admin

    def provide_store(state: State) -> SqlWebhookStore:
        return runtime(state).store

    def provide_wakeup(state: State) -> asyncio.Event:
        return runtime(state).dispatcher.wakeup

    def provide_allow_private() -> bool:
        return settings.allow_private_targets

    app = build_app(
        title="Parley webhooks",
        version=__version__,
        api_keys=settings.api_key_list,
        rate_limit=RateLimit.parse(settings.rate_limit),
        metrics_keys=settings.metrics_key_list,
        api_handlers=[EndpointsController],
        checks={
            "nats": nats_check(lambda: runtime(app.state).nc),
            "postgres": postgres_check(lambda: runtime(app.state).engine),
        },
        lifespan=service_lifespan("webhooks", start),
        dependencies={
            "admin": Provide(provide_admin, sync_to_thread=False),
            "store": Provide(provide_store, sync_to_thread=False),
            "wakeup": Provide(provide_wakeup, sync_to_thread=False),
            "allow_private": Provide(provide_allow_private, sync_to_thread=False),
        },
        max_body_bytes=settings.max_request_body_bytes,
    )
    return app
