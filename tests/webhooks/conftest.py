"""The webhooks service over real Postgres and NATS, delivering to a real local receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from parley_webhooks.app import create_app
from parley_webhooks.settings import Settings

import parley_contracts as c
from parley_runtime.messaging.entries import event_headers
from tests.support import eventually
from tests.support.receiver import Receiver
from tests.support.serving import served

API_KEY = "webhooks-key"
SECRET_KEY = "test-secret-key-for-webhook-secrets!"
QUICK_RETRIES = "0.3,0.3,0.3,0.3,0.3,0.3,0.3"


@dataclass
class Hooks:
    api: httpx.AsyncClient
    receiver: Receiver
    receiver_url: str
    nc: Client

    async def endpoint(self, path: str, event_types: Sequence[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"url": f"{self.receiver_url}/{path}"}
        if event_types is not None:
            body["event_types"] = list(event_types)
        r = await self.api.post("/v1/endpoints", json=body)
        assert r.status_code == 201, r.text
        found: dict[str, Any] = r.json()
        return found

    async def publish(self, *events: c.Event) -> None:
        js = self.nc.jetstream()
        for e in events:
            await js.publish(c.subject_for(e), c.encode(e), headers=event_headers(e))

    async def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        r = await self.api.get(f"/v1/endpoints/{endpoint_id}/deliveries", params={"limit": 200})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def received(self, path: str, n: int, timeout: float = 30) -> None:
        await eventually(lambda: len(self.receiver.on(path)) >= n, timeout=timeout, what=f"{n} requests at /{path}")


def settings_for(database_url: str, nats_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url, "api_keys": API_KEY, "nats_url": nats_url, "secret_key": SECRET_KEY,
        "allow_private_targets": True, "retry_schedule_seconds": QUICK_RETRIES, "timeout_seconds": 5.0,
        "report_wait_seconds": 2.0,
    }  # fmt: skip
    return Settings(**(values | overrides))


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def make_hooks(database_url: str, nats_url: str, nc: Client, receiver: Receiver) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        return _hooks(settings_for(database_url, nats_url, **overrides), nc, receiver)

    return make


@pytest.fixture
async def hooks(make_hooks: Callable[..., Any]) -> AsyncIterator[Hooks]:
    async with make_hooks() as found:
        yield found


@asynccontextmanager
async def _hooks(settings: Settings, nc: Client, receiver: Receiver) -> AsyncIterator[Hooks]:
    async with (
        served(receiver.app()) as receiver_url,
        served(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}) as api,
    ):
        yield Hooks(api, receiver, receiver_url, nc)
