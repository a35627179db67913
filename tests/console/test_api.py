"""The console's API and pages as HTTP: every API route needs a session, every response carries the security
headers, a trusted proxy's identity signs a person in. No upstream is needed: the guard answers first."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from parley_console.app import create_app
from parley_console.settings import Settings
from parley_console.web import built

NOWHERE = "http://127.0.0.1:9"
SETTINGS = Settings(
    api_keys="ops:sign-in-key,reader:read-key:history.read+rooms.read",
    service_key="service-key",
    history_url=NOWHERE,
    rooms_url=NOWHERE,
    recordings_url=NOWHERE,
    session_secret="s" * 32,
    cookie_secure=False,
    nats_url="nats://127.0.0.1:9",
    trusted_identity_header="X-Forwarded-Email",
)


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(SETTINGS)) as c:
        yield c


def _api_routes(app: Litestar) -> list[tuple[str, str]]:
    """Every (method, path) under /api, path parameters filled in, from the app's own route table."""
    found = []
    for route in app.routes:
        if not route.path.startswith("/api"):
            continue
        path = re.sub(r"\{(\w+):uuid\}", "0190a6b2-0000-7000-8000-000000000000", route.path)
        path = re.sub(r"\{(\w+):\w+\}", "c1", path)
        for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path + ("?q=x" if path.endswith("/search") else "")))
    return found


async def test_every_api_route_but_signing_in_refuses_a_request_without_a_session(
    client: AsyncTestClient[Litestar],
) -> None:
    routes = _api_routes(client.app)
    assert ("GET", "/api/calls") in routes and ("GET", "/api/calls/c1/live") in routes
    for method, path in routes:
        if (method, path) == ("POST", "/api/session"):
            continue
        client.cookies.set("parley_console", "forged.cookie")
        r = await client.request(method, path)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_wrong_key_is_refused_and_a_right_one_gets_a_strict_httponly_cookie(
    client: AsyncTestClient[Litestar],
) -> None:
    refused = await client.post("/api/session", json={"key": "nope"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    assert (await client.post("/api/session", json={"kee": "x"})).status_code == 400
    signed = await client.post("/api/session", json={"key": "sign-in-key"})
    assert signed.status_code == 204
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=43200" in cookie
    me = await client.get("/api/session")
    assert me.json()["name"] == "ops" and me.json()["via"] == "key" and me.json()["scopes"] == ["*"]


async def test_a_change_needs_its_scope_on_the_sign_in_key_and_a_refusal_is_an_audit_line(
    client: AsyncTestClient[Litestar], caplog: pytest.LogCaptureFixture
) -> None:
    assert (await client.post("/api/session", json={"key": "read-key"})).status_code == 204
    assert (await client.get("/api/session")).json()["scopes"] == ["history.read", "rooms.read"]
    refusals = {
        ("DELETE", "/api/calls/c1"): "history.erase",
        ("DELETE", "/api/rooms/r1"): "rooms.write",
        ("POST", "/api/simulations"): "rooms.write",
        ("POST", "/api/ops/dead-letters/replay"): "ops.admin",
        ("GET", "/api/ops/dead-letters"): "ops.admin",
    }
    with caplog.at_level(logging.INFO, logger="parley.audit"):
        for (method, path), scope in refusals.items():
            r = await client.request(method, path, json={"user_id": "ada", "lines": ["hi"], "all": True})
            assert r.status_code == 403 and scope in r.json()["detail"], (method, path, r.text)
    audited = [(r.action, r.outcome, r.who) for r in caplog.records if r.name == "parley.audit"]  # type: ignore[attr-defined]
    assert ("DELETE /api/calls/{conversation_id}", 403, "reader") in audited


async def test_talk_says_when_no_livekit_server_is_configured(client: AsyncTestClient[Litestar]) -> None:
    await client.post("/api/session", json={"key": "sign-in-key"})
    assert (await client.get("/api/talk")).json() == {"livekit_url": None, "simulate": True}
    r = await client.post("/api/talk", json={"user_id": "ada"})
    assert r.status_code == 503 and "CONSOLE_LIVEKIT_URL" in r.json()["detail"]
    bad = await client.post("/api/simulations", json={"user_id": "ada", "lines": []})
    assert bad.status_code == 400  # at least one line


async def test_a_configured_livekit_server_is_the_one_origin_the_page_may_connect_to_besides_its_own() -> None:
    settings = msgspec.structs.replace(SETTINGS, livekit_url="wss://lk.example.com")
    async with AsyncTestClient(app=create_app(settings)) as c:
        csp = (await c.get("/health")).headers["content-security-policy"]
    assert "connect-src 'self' wss://lk.example.com https://lk.example.com;" in csp


async def test_a_trusted_proxys_identity_signs_a_person_in_without_a_key(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/api/session", headers={"X-Forwarded-Email": "grace@example.com"})
    assert r.status_code == 200 and r.json() == {
        "name": "grace@example.com", "via": "proxy", "expires_at": None,
        "scopes": ["history.read", "recordings.read", "rooms.read"],  # read-only unless the deployment says more
    }  # fmt: skip
    assert (await client.get("/api/session", headers={"X-Forwarded-Email": "  "})).status_code == 401


async def test_every_response_carries_the_security_headers_and_loads_nothing_from_elsewhere(
    client: AsyncTestClient[Litestar],
) -> None:
    for path in ("/api/calls", "/health", "/calls", "/assets/nothing.js"):
        r = await client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/calls"


@pytest.mark.skipif(not built(), reason="the web app is built by `make console` (make test does)")
async def test_pages_are_the_app_and_assets_never_leave_their_folder(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/calls", "/calls/c1", "/search", "/signin", "/talk", "/rooms", "/ops"):
        r = await client.get(path)
        assert r.status_code == 200 and '<div id="root">' in r.text, path
    assert (await client.get("/assets/..%2F..%2Fapp.py")).status_code == 404
    assert (await client.get("/assets/../__init__.py")).status_code == 404
