"""A service whose NATS never answered still stops at once: nothing is in hand, so there is nothing to wait for."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from parley_devstack.ports import free_port


def _settings(service: str, database_url: str, tmp_path: Path) -> Any:
    settings = importlib.import_module(f"parley_{service}.settings").Settings
    common = {
        "database_url": database_url,
        "api_keys": "k",
        "nats_url": f"nats://127.0.0.1:{free_port()}",  # nobody listens there
        "migrate_on_start": True,
    }
    extra: dict[str, dict[str, str]] = {
        "history": {},
        "rooms": {"livekit_url": "http://127.0.0.1:9", "livekit_api_key": "k", "livekit_api_secret": "s" * 32,
                  "state_dir": str(tmp_path / "rooms")},
        "recordings": {"blob_url": (tmp_path / "blobs").as_uri()},
    }  # fmt: skip
    return settings(**common, **extra[service])


@pytest.mark.parametrize("service", ["history", "rooms", "recordings"])
async def test_a_service_that_never_reached_nats_stops_at_once(service: str, database_url: str, tmp_path: Path) -> None:
    create_app = importlib.import_module(f"parley_{service}.app").create_app
    async with AsyncTestClient(app=create_app(_settings(service, database_url, tmp_path))) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503  # and it says why it is not ready
        stopping = time.monotonic()
    # It used to wait 20 s for the task still connecting; the outbox (rooms) may take its 5 s to give up.
    assert time.monotonic() - stopping < 8
