"""A request the API cannot serve gets a 4xx problem-details body, whatever went wrong with it: an unknown
path, a method the path does not take, a body too large, malformed JSON, a bad parameter, a NUL character."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from parley_runtime.web.cursors import encode_cursor

from .services import API_KEY, READS, SERVICES, create_app, service_settings

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _assert_problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, (status, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["title"] and "detail" in body


@pytest.mark.parametrize("service", SERVICES)
async def test_unservable_requests_get_a_4xx_problem(service: str, database_url: str, tmp_path: Path) -> None:
    async with AsyncTestClient(app=create_app(service, service_settings(service, database_url, tmp_path))) as client:
        _assert_problem(await client.get("/v1/no-such-thing", headers=AUTH), 404)
        _assert_problem(await client.put(READS[service].split("?")[0], headers=AUTH), 405)
        _assert_problem(
            await client.get(f"{READS[service]}{'&' if '?' in READS[service] else '?'}limit=-1", headers=AUTH), 400
        )


async def test_rooms_refuses_malformed_and_oversized_bodies_with_a_problem(database_url: str, tmp_path: Path) -> None:
    settings = service_settings("rooms", database_url, tmp_path)
    async with AsyncTestClient(app=create_app("rooms", settings)) as client:
        headers = {**AUTH, "Content-Type": "application/json"}
        _assert_problem(await client.post("/v1/rooms", content=b'{"user_id": ', headers=headers), 400)
        _assert_problem(await client.post("/v1/rooms", content=b'{"user_id": 7}', headers=headers), 400)
        huge = b'{"user_id": "' + b"a" * (settings.max_request_body_bytes + 1) + b'"}'
        _assert_problem(await client.post("/v1/rooms", content=huge, headers=headers), 413)


async def test_a_nul_character_in_free_text_gets_a_400_problem(database_url: str, tmp_path: Path) -> None:
    # PostgreSQL cannot store or compare a NUL: each of these answered 500 before the APIs refused it.
    async with AsyncTestClient(app=create_app("history", service_settings("history", database_url, tmp_path))) as h:
        for url in ("/v1/conversations?user_id=a%00", "/v1/search?q=a%00b", "/v1/search?q=a&user_id=%00"):
            _assert_problem(await h.get(url, headers=AUTH), 400)
    # Refused before LiveKit is asked: none answers at the test's LiveKit URL, which would make it a 503.
    async with AsyncTestClient(app=create_app("rooms", service_settings("rooms", database_url, tmp_path))) as r:
        _assert_problem(await r.get("/v1/rooms?user_id=%00", headers=AUTH), 400)
        for field in ("user_id", "instructions", "language"):
            _assert_problem(await r.post("/v1/rooms", json={field: "a\x00b"}, headers=AUTH), 400)
        for token in ({"identity": "a\x00"}, {"identity": "a", "name": "\x00"}):  # the room need not exist
            _assert_problem(await r.post("/v1/rooms/call-1/tokens", json=token, headers=AUTH), 400)


FORGED_CURSORS = [
    encode_cursor("0001-01-01T00:00:00+14:00", "x"),  # a time with no UTC equivalent
    encode_cursor("9999-12-31T23:59:59-14:00", "x"),
    encode_cursor("2026-01-01T00:00:00+00:00", 5),  # an id that is not a string
    encode_cursor("2026-01-01T00:00:00+00:00", "x\x00"),
]


@pytest.mark.parametrize("service", SERVICES)
async def test_a_forged_cursor_is_a_400_problem(service: str, database_url: str, tmp_path: Path) -> None:
    # Cursors are opaque and their parts unchecked by the API's validation: each of these answered 500 (or, for
    # the id, an empty page) before the cursor's parts were checked.
    lists = {
        "history": ["/v1/conversations?", "/v1/erasures?"],
        "rooms": ["/v1/rooms?"],
        "recordings": [f"{READS[service]}&"],
    }
    async with AsyncTestClient(app=create_app(service, service_settings(service, database_url, tmp_path))) as client:
        for url in lists[service]:
            for cursor in FORGED_CURSORS:
                _assert_problem(await client.get(f"{url}cursor={cursor}", headers=AUTH), 400)
