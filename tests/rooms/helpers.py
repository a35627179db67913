"""Reading what the rooms service published, signing webhooks exactly as LiveKit does, and serving the app on a
real port (the test client runs one request at a time, so races need a server)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import uvicorn
from google.protobuf.json_format import MessageToJson
from litestar import Litestar
from livekit import api

import parley_contracts as c
from parley_devstack.ports import free_port
from parley_devstack.testing import stream_events


async def published(url: str, settle: float = 0.5) -> list[c.AnyEvent]:
    await asyncio.sleep(settle)  # the outbox publishes in the background
    return await stream_events(url)


def signed_webhook(
    event: api.WebhookEvent, key: str, secret: str, ttl: timedelta = timedelta(minutes=5)
) -> tuple[str, str]:
    """(body, Authorization header) as the LiveKit server sends them: a raw JWT carrying the body's sha256."""
    body = MessageToJson(event)
    sha = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = api.AccessToken(key, secret).with_sha256(sha).with_ttl(ttl).to_jwt()
    return body, token


@asynccontextmanager
async def served(app: Litestar) -> AsyncIterator[str]:
    """The app behind uvicorn on a free port, lifespan included; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
