"""Rooms fixtures: a LiveKit stand-in, a migrated database, settings and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from parley_devstack.livekit_standin import LiveKitStandIn
from parley_devstack.testing import provisioned
from parley_rooms.app import create_app
from parley_rooms.db import migrate_async
from parley_rooms.settings import Settings

API_KEY = "rooms-test-key"
LK_KEY, LK_SECRET = "APIdevkey", "a-very-secret-secret-of-32-chars!!"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
async def livekit() -> AsyncIterator[LiveKitStandIn]:
    standin = await LiveKitStandIn(LK_KEY, LK_SECRET).start()
    yield standin
    await standin.stop()


@pytest.fixture
async def rooms_db(database_url: str) -> str:
    await migrate_async(database_url)
    return database_url


@pytest.fixture
async def settings(rooms_db: str, nats_url: str, livekit: LiveKitStandIn, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    await provisioned(nats_url)
    return Settings(
        database_url=rooms_db,
        api_keys=API_KEY,
        nats_url=nats_url,
        livekit_url=livekit.url,
        livekit_api_key=LK_KEY,
        livekit_api_secret=LK_SECRET,
        migrate_on_start=False,
        livekit_timeout_seconds=2,
        state_dir=str(tmp_path / "rooms"),
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as c:
        yield c
