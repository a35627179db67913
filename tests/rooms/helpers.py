"""Reading what the rooms service published, and signing webhooks exactly as LiveKit does."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import timedelta

from google.protobuf.json_format import MessageToJson
from livekit import api

import parley_contracts as c
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
