"""Composition root of the console: `create_app(settings)`."""

from __future__ import annotations

import secrets

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from nats.aio.client import Client

from parley_console import __version__
from parley_console.agent_gateway import NatsSimulatingAgent
from parley_console.api import CallsController, Console, SessionController
from parley_console.operate import OpsController, RoomsController, TalkController
from parley_console.sessions import SessionSigner
from parley_console.settings import Settings
from parley_console.signouts import KvSignouts
from parley_console.upstream import HttpPlatform
from parley_console.web import livekit_origins, security_headers, web_handlers
from parley_runtime.lifecycle import Lifecycle, service_lifespan
from parley_runtime.web.http import build_app
from parley_runtime.web.keys import split_keys
from parley_runtime.web.readiness import nats_check


def create_app(settings: Settings) -> Litestar:
    async def start(life: Lifecycle) -> Console:
        platform = HttpPlatform(
            history=settings.history_url,
            rooms=settings.rooms_url,
            recordings=settings.recordings_url,
            key=settings.service_key,
            timeout=settings.upstream_timeout_seconds,
        )
        life.on_close("upstream clients", platform.aclose)
        signouts = KvSignouts()
        signer = SessionSigner(settings.session_secret.encode(), settings.session_ttl_seconds)
        agent = NatsSimulatingAgent(lambda: console.nc)
        console = Console(
            settings=settings, signer=signer, signouts=signouts, platform=platform, agent=agent,
            keys=settings.sign_in_keys,
        )  # fmt: skip

        async def on_nats(nc: Client) -> None:
            console.nc = nc
            await signouts.follow(nc, life.stop)

        life.with_nats(settings.nats, on_nats, client_name="console")
        return console

    def provide_console(state: State) -> Console:
        console: Console = state.runtime
        return console

    # /schema and /metrics take a sign-in key; with a trusted proxy alone, no key opens them.
    keys = split_keys(settings.api_keys) or [secrets.token_urlsafe(32)]
    app = build_app(
        title="Parley console",
        version=__version__,
        api_keys=keys,
        metrics_keys=settings.metrics_key_list,
        api_handlers=[],
        public_handlers=[
            SessionController,
            CallsController,
            TalkController,
            RoomsController,
            OpsController,
            *web_handlers,
        ],
        checks={"nats": nats_check(lambda: provide_console(app.state).nc)},
        lifespan=service_lifespan("console", start),
        dependencies={"console": Provide(provide_console, sync_to_thread=False)},
    )
    app.asgi_handler = security_headers(app.asgi_handler, livekit_origins(settings.livekit_url))
    return app
