"""Composition root of the recordings service: `create_app(settings)`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from nats.aio.client import Client
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_recordings import __version__
from parley_recordings.api import recordings_routes
from parley_recordings.blobs import BlobStore, open_blob_store
from parley_recordings.consumers import NatsAudio, publisher, recordings_consumer
from parley_recordings.db import make_engine, migrate_async
from parley_recordings.handlers import Deps
from parley_recordings.history_turns import nats_earlier_turns
from parley_recordings.repo import RecordingRepo
from parley_recordings.retention import purge_expired
from parley_recordings.settings import Settings
from parley_runtime.lifecycle import Lifecycle, service_lifespan
from parley_runtime.web.access import RateLimit
from parley_runtime.web.http import build_app
from parley_runtime.web.readiness import nats_check, postgres_check


@dataclass
class Runtime:
    engine: AsyncEngine
    repo: RecordingRepo
    blobs: BlobStore
    nc: Client | None = None


def create_app(settings: Settings) -> Litestar:
    async def consume(rt: Runtime, life: Lifecycle, nc: Client) -> None:
        rt.nc = nc
        js = nc.jetstream()
        deps = Deps(
            blobs=rt.blobs,
            repo=rt.repo,
            audio=NatsAudio(js),
            publish=publisher(js),
            earlier_turns=nats_earlier_turns(nc),
        )
        if settings.run_consumer:
            await recordings_consumer(nc, deps).run(life.stop)

    async def start(life: Lifecycle) -> Runtime:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        life.on_close("postgres", engine.dispose)
        if settings.migrate_on_start:
            await migrate_async(settings.database_url)
        rt = Runtime(engine=engine, repo=RecordingRepo(engine), blobs=open_blob_store(settings))
        life.with_nats(settings.nats, lambda nc: consume(rt, life, nc), client_name="recordings")
        if settings.retention_days > 0:
            life.repeat(3600, partial(purge_expired, rt.repo, rt.blobs, days=settings.retention_days), what="retention")
        return rt

    def runtime(state: State) -> Runtime:
        rt: Runtime = state.runtime
        return rt

    def provide_repo(state: State) -> RecordingRepo:
        return runtime(state).repo

    def provide_blobs(state: State) -> BlobStore:
        return runtime(state).blobs

    def provide_settings() -> Settings:
        return settings

    app = build_app(
        title="Parley recordings",
        version=__version__,
        api_keys=settings.api_key_list,
        rate_limit=RateLimit.parse(settings.rate_limit),
        metrics_keys=settings.metrics_key_list,
        api_handlers=[recordings_routes(settings)],
        checks={
            "nats": nats_check(lambda: runtime(app.state).nc),
            "postgres": postgres_check(lambda: runtime(app.state).engine),
        },
        lifespan=service_lifespan("recordings", start),
        dependencies={
            "repo": Provide(provide_repo, sync_to_thread=False),
            "blobs": Provide(provide_blobs, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
    )
    return app
