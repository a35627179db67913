"""The agent's health port: `/health` and `/ready` open, `/metrics` only for a scrape key, problems for the rest."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from parley_agent.health import HealthServer
from parley_devstack.ports import free_port


@pytest.mark.parametrize("keys", [["scrape"], []])
async def test_metrics_need_a_configured_scrape_key_and_probes_need_none(tmp_path: Path, keys: list[str]) -> None:
    server = HealthServer("127.0.0.1", free_port(), lambda: True, tmp_path, keys)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/ready")).json() == {"status": "ready", "checks": {"nats": True}}
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape"}):
                refused = await client.get("/metrics", headers=headers)
                assert refused.status_code == 401, headers
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert "# TYPE" not in refused.text
            for unservable, status in ((client.get("/nope"), 404), (client.post("/health"), 405)):
                answer = await unservable
                assert answer.status_code == status
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["status"] == status
            scraped = await client.get("/metrics", headers={"Authorization": "Bearer scrape"})
            if keys:
                assert scraped.status_code == 200 and "# TYPE" in scraped.text
            else:  # no key configured: refused all the same, saying what to set
                assert scraped.status_code == 401
                assert scraped.json()["detail"] == "AGENT_METRICS_KEYS is not set"
    finally:
        await server.stop()
