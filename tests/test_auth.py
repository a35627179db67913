"""Every endpoint of every API but `/health` and `/ready` needs a key, found from the apps' own routes, so
a route added later without one fails here. A scrape key opens `/metrics` and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from .services import API_KEY, API_SERVICES, create_app, service_settings

OPEN = {"/health", "/ready"}
SCRAPE_KEY = "scrape-only"


def _value(param: re.Match[str]) -> str:
    """A value its path parameter's type accepts, so the request reaches the guard (not a 404)."""
    return "0190a0a0-0000-7000-8000-000000000000" if param.group(0).endswith(":uuid}") else "x"


def _endpoints(app: Litestar) -> list[tuple[str, str]]:
    """(method, path) of every route, path parameters filled in (OPTIONS, which Litestar answers itself, left out)."""
    found = set()
    for route in app.routes:
        path = re.sub(r"\{[^}]+\}", _value, route.path)
        for method in getattr(route, "methods", ()):
            if method not in {"OPTIONS", "HEAD"}:
                found.add((method, path))
    return sorted(found)


@pytest.mark.parametrize("service", API_SERVICES)
async def test_every_endpoint_but_health_and_ready_refuses_a_request_without_a_key(
    service: str, database_url: str, tmp_path: Path
) -> None:
    app = create_app(service, service_settings(service, database_url, tmp_path, metrics_keys=SCRAPE_KEY))
    endpoints = _endpoints(app)
    assert ("GET", "/metrics") in endpoints and ("GET", "/schema/openapi.json") in endpoints
    guarded = [(m, p) for m, p in endpoints if p not in OPEN]
    async with AsyncTestClient(app=app) as client:
        for method, path in guarded:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                r = await client.request(method, path, headers=headers)
                assert r.status_code == 401, (method, path, headers, r.status_code)
                assert r.headers["content-type"].startswith("application/problem+json"), (method, path)
        for path in OPEN:
            assert (await client.get(path)).status_code in {200, 503}  # 503: NATS is down in this test


@pytest.mark.parametrize("service", API_SERVICES)
async def test_a_scrape_key_opens_metrics_and_nothing_else(service: str, database_url: str, tmp_path: Path) -> None:
    app = create_app(service, service_settings(service, database_url, tmp_path, metrics_keys=SCRAPE_KEY))
    scrape = {"Authorization": f"Bearer {SCRAPE_KEY}"}
    api = {"Authorization": f"Bearer {API_KEY}"}
    async with AsyncTestClient(app=app) as client:
        metrics = await client.get("/metrics", headers=scrape)
        assert metrics.status_code == 200 and "# TYPE" in metrics.text
        assert (await client.get("/metrics", headers=api)).status_code == 200  # an API key opens it too
        assert (await client.get("/schema/openapi.json", headers=api)).status_code == 200
        for method, path in _endpoints(app):
            if path in OPEN or path == "/metrics":
                continue
            r = await client.request(method, path, headers=scrape)
            assert r.status_code == 401, (method, path, r.status_code)
