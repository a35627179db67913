"""A service whose NATS never answered still stops at once: nothing is in hand, so there is nothing to wait for."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from .services import SERVICES, create_app, service_settings


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_that_never_reached_nats_stops_at_once(service: str, database_url: str, tmp_path: Path) -> None:
    settings = service_settings(service, database_url, tmp_path)
    async with AsyncTestClient(app=create_app(service, settings)) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503  # and it says why it is not ready
        stopping = time.monotonic()
    # A task still waiting for NATS holds nothing: it is cancelled, not given the 20 s grace of the others.
    # The outbox (rooms) may take its 5 s to give up.
    assert time.monotonic() - stopping < 8
