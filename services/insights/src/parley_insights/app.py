"""Composition root of the insights service: `create_app(settings)`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from nats.aio.client import Client

from parley_insights import __version__
from parley_insights.analysis import Analyser
from parley_insights.api import AnalysisController, HistorySessions
from parley_insights.consumers import insights_consumer, publisher
from parley_insights.llm import LlmAnalyser
from parley_insights.offline import OfflineAnalyser
from parley_insights.service import Insights
from parley_insights.settings import Settings
from parley_runtime.lifecycle import Lifecycle, service_lifespan
from parley_runtime.web.access import RateLimit
from parley_runtime.web.http import build_app
from parley_runtime.web.readiness import nats_check


@dataclass
class Runtime:
    insights: Insights
    history: HistorySessions | None
    running: set[asyncio.Task[Any]] = field(default_factory=set)
    nc: Client | None = None


def analyser(settings: Settings, life: Lifecycle) -> Analyser:
    if not settings.llm_base_url:
        return OfflineAnalyser()
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    client = httpx.AsyncClient(base_url=settings.llm_base_url.rstrip("/") + "/", headers=headers)
    life.on_close("the analysing model's client", client.aclose)
    return LlmAnalyser(client, model=settings.llm_model, attempts=settings.llm_attempts,
                       timeout=settings.llm_timeout_seconds)  # fmt: skip


def create_app(settings: Settings) -> Litestar:
    async def start(life: Lifecycle) -> Runtime:
        published: list[Client] = []

        async def publish(event: Any) -> None:
            if not published:
                raise ConnectionError("NATS is not connected yet")
            await publisher(published[0].jetstream())(event)

        insights = Insights(
            analyser=analyser(settings, life),
            schemas=settings.schemas(),
            default_schema=settings.default_schema,
            table=settings.price_table(),
            publish=publish,
            transport=settings.transport_pair,
        )
        history = None
        if settings.history_url and settings.history_key:
            auth = {"Authorization": f"Bearer {settings.history_key}"}
            client = httpx.AsyncClient(base_url=settings.history_url, headers=auth, timeout=10)
            life.on_close("history client", client.aclose)
            history = HistorySessions(client)
        rt = Runtime(insights=insights, history=history)

        async def consume(nc: Client) -> None:
            rt.nc = nc
            published.append(nc)
            await insights_consumer(nc, insights, concurrency=settings.concurrency).run(life.stop)

        life.with_nats(settings.nats, consume, client_name="insights")
        return rt

    def runtime(state: State) -> Runtime:
        rt: Runtime = state.runtime
        return rt

    def provide_insights(state: State) -> Insights:
        return runtime(state).insights

    def provide_history(state: State) -> HistorySessions | None:
        return runtime(state).history

    def provide_running(state: State) -> set[asyncio.Task[Any]]:
        return runtime(state).running

    app = build_app(
        title="Parley insights",
        version=__version__,
        api_keys=settings.api_key_list,
        rate_limit=RateLimit.parse(settings.rate_limit),
        metrics_keys=settings.metrics_key_list,
        api_handlers=[AnalysisController],
        checks={"nats": nats_check(lambda: runtime(app.state).nc)},
        lifespan=service_lifespan("insights", start),
        dependencies={
            "insights": Provide(provide_insights, sync_to_thread=False),
            "history": Provide(provide_history, sync_to_thread=False),
            "running": Provide(provide_running, sync_to_thread=False),
        },
    )
    return app
