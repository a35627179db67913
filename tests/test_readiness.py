"""With NATS down and Postgres up, every API still serves, and the readiness the chart probes says so: a NATS
outage must not take every replica out of its Service (no room could be created, so no call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from .services import API_KEY, READS, SERVICES, create_app, service_settings


@pytest.mark.parametrize("service", SERVICES)
async def test_an_api_without_nats_serves_and_is_ready_for_its_service(
    service: str, database_url: str, tmp_path: Path
) -> None:
    settings = service_settings(service, database_url, tmp_path)  # NATS on a port where nobody listens
    async with AsyncTestClient(app=create_app(service, settings)) as client:
        everything = await client.get("/ready")
        assert everything.status_code == 503
        assert everything.json()["checks"] == {"nats": False, "postgres": True}
        probe = await client.get("/ready?require=postgres")
        assert probe.status_code == 200
        assert probe.json()["checks"] == {"nats": False, "postgres": True}  # still reported
        assert (await client.get("/ready?require=nats")).status_code == 503
        assert (await client.get("/ready?require=postgres, nats")).status_code == 503  # spaces allowed
        for unknown in ("postgres,bogus", "", "postgres,"):  # refused as the document's pattern says
            refused = await client.get(f"/ready?require={unknown}")
            assert refused.status_code == 400, unknown
            assert refused.headers["content-type"].startswith("application/problem+json")
        r = await client.get(READS[service], headers={"Authorization": f"Bearer {API_KEY}"})
        assert r.status_code == 200, r.text
