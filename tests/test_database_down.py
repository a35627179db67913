"""With Postgres unreachable, every API answers at once with a 503 problem and `Retry-After`, not a 500:
an outage is not a bug, and clients and proxies retry a 503."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from parley_devstack.ports import free_port

from .services import API_KEY, READS, SERVICES, create_app, service_settings


@pytest.mark.parametrize("service", SERVICES)
async def test_an_api_read_with_the_database_down_is_a_503_to_retry(service: str, tmp_path: Path) -> None:
    nobody = f"postgresql://parley:parley@127.0.0.1:{free_port()}/parley"
    settings = service_settings(service, nobody, tmp_path, migrate_on_start=False)
    async with AsyncTestClient(app=create_app(service, settings)) as client:
        started = time.monotonic()
        r = await client.get(READS[service], headers={"Authorization": f"Bearer {API_KEY}"})
        assert time.monotonic() - started < 6  # the connect timeout, never a hang
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["retry-after"] == "5"
        body = r.json()
        assert body["status"] == 503
        assert "unavailable" in body["detail"]
        assert (await client.get("/health")).status_code == 200  # the process itself is fine
