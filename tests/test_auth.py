"""Every endpoint of every API but `/health` and `/ready` needs a key, found from the apps' own routes, so
a route added later without one fails here. A scrape key opens `/metrics` and nothing else."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from parley_runtime.web.keys import SCOPES
from tests.support import eventually

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


def _scoped_routes(app: Litestar) -> list[tuple[str, str, str | None]]:
    """(method, path, scope) of every keyed API route: what each requires, read from the app's own routes."""
    found = []
    for route in app.routes:
        if not route.path.startswith("/v1/") or route.path == "/v1/livekit/webhook":  # LiveKit signs that one
            continue
        path = re.sub(r"\{[^}]+\}", _value, route.path)
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                found.append((method, path, handler.opt.get("scope")))
    return found


@pytest.mark.parametrize("service", API_SERVICES)
async def test_every_route_requires_its_scope_and_a_key_without_it_gets_403_naming_it(
    service: str, database_url: str, tmp_path: Path
) -> None:
    keys = "full:full-key,none:none-key:tokens.create,"  # a key with one scope no route of these services needs
    app = create_app(service, service_settings(service, database_url, tmp_path, api_keys=keys, rate_limit="off"))
    routes = _scoped_routes(app)
    assert routes and all(scope in SCOPES - {"*"} for _, _, scope in routes), routes  # a new route names its scope
    async with AsyncTestClient(app=app) as client:
        for method, path, scope in routes:
            if scope == "tokens.create":
                continue
            r = await client.request(method, path, headers={"Authorization": "Bearer none-key"})
            assert r.status_code == 403, (method, path, r.status_code)
            assert r.json()["detail"] == f"the key none lacks the scope {scope}"
            assert r.json()["required_scope"] == scope


async def test_a_reader_reads_and_is_refused_erasure_naming_history_erase(database_url: str, tmp_path: Path) -> None:
    keys = f"reader:K1:history.read,admin:sha256={hashlib.sha256(b'K2').hexdigest()}"
    app = create_app("history", service_settings("history", database_url, tmp_path, api_keys=keys))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/v1/conversations", headers={"Authorization": "Bearer K1"})).status_code == 200
        refused = await client.delete("/v1/conversations/c1", headers={"Authorization": "Bearer K1"})
        assert refused.status_code == 403 and "history.erase" in refused.json()["detail"]
        erased = await client.delete("/v1/conversations/c1", headers={"Authorization": "Bearer K2"})  # hashed key
        assert erased.status_code == 202
        document = (await client.get("/schema/openapi.json", headers={"Authorization": "Bearer K1"})).json()
        erase = document["paths"]["/v1/conversations/{conversation_id}"]["delete"]
        assert erase["security"] == [{"BearerToken": ["history.erase"]}]


async def test_a_burst_over_the_rate_limit_gets_429_then_is_served_again(database_url: str, tmp_path: Path) -> None:
    settings = service_settings("history", database_url, tmp_path, rate_limit="5/s,burst=3")
    async with AsyncTestClient(app=create_app("history", settings)) as client:
        auth = {"Authorization": f"Bearer {API_KEY}"}
        answers = [await client.get("/v1/conversations", headers=auth) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        over = answers[-1]
        assert over.headers["content-type"].startswith("application/problem+json")
        assert int(over.headers["retry-after"]) >= 1 and over.headers["ratelimit-policy"] == '"burst";q=3;w=1'
        assert answers[0].headers["ratelimit"].startswith('"burst";r=2;')

        async def served() -> bool:
            return (await client.get("/v1/conversations", headers=auth)).status_code == 200

        await eventually(served, timeout=5, interval=0.1, what="the bucket to refill")


async def test_writes_and_refusals_leave_an_audit_line_without_what_was_said(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = "reader:K1:history.read,admin:K2"
    app = create_app("history", service_settings("history", database_url, tmp_path, api_keys=keys))
    caplog.set_level(logging.INFO, logger="parley.audit")
    async with AsyncTestClient(app=app) as client:
        await client.get("/v1/search?q=secret+words", headers={"Authorization": "Bearer K1"})  # a read: no line
        await client.delete("/v1/conversations/c9", headers={"Authorization": "Bearer K1"})
        await client.delete("/v1/conversations/c9", headers={"Authorization": "Bearer K2"})
        await client.get("/v1/conversations", headers={"Authorization": "Bearer nope"})
    lines = [(r.who, r.action, r.resource, r.outcome) for r in caplog.records if r.name == "parley.audit"]  # type: ignore[attr-defined]
    assert lines == [
        ("reader", "DELETE /v1/conversations/{conversation_id}", "/v1/conversations/c9", 403),
        ("admin", "DELETE /v1/conversations/{conversation_id}", "/v1/conversations/c9", 202),
        (None, "GET /v1/conversations", "/v1/conversations", 401),
    ]
    ours = [r for r in caplog.records if r.name.startswith("parley")]  # the services' lines, not the test client's
    assert ours and not any("secret" in r.getMessage() or "K1" in str(r.__dict__) for r in ours)
