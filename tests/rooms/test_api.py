"""The rooms API with the real livekit-api client against a local LiveKit stand-in."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from livekit import api

import parley_contracts as c
from parley_agent.metadata import parse_room_metadata
from parley_devstack.livekit_standin import LiveKitStandIn
from parley_devstack.ports import free_port
from parley_devstack.testing import provisioned
from parley_rooms.app import create_app
from parley_rooms.settings import Settings
from tests.support.serving import served

from .conftest import AUTH, LK_KEY, LK_SECRET
from .helpers import published

BODY = {"conversation_id": "conv-42", "user_id": "ada", "instructions": "Be brief", "language": "en"}


async def test_created_room_carries_what_the_agent_reads_and_dispatches_the_agent(
    client: AsyncTestClient[Litestar],
    livekit: LiveKitStandIn,
    nats_url: str,
) -> None:
    await provisioned(nats_url)
    r = await client.post("/v1/rooms", json={**BODY, "name": "call-1"}, headers=AUTH)
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["status"] == "waiting"
    assert room["sid"].startswith("RM_")
    request = livekit.created[0]
    meta = parse_room_metadata(request.metadata)  # exactly what the agent will do with it
    assert (meta.conversation_id, meta.user_id, meta.instructions, meta.language) == (
        "conv-42",
        "ada",
        "Be brief",
        "en",
    )
    assert [d.agent_name for d in request.agents] == ["parley-agent"]
    assert parse_room_metadata(request.agents[0].metadata).conversation_id == "conv-42"
    events = await published(nats_url)
    assert [type(e).__name__ for e in events] == ["RoomCreated"]
    assert isinstance(events[0], c.RoomCreated)
    assert events[0].room_name == "call-1" and events[0].conversation_id == "conv-42"
    got = (await client.get("/v1/rooms/call-1", headers=AUTH)).json()
    assert got["conversation_id"] == "conv-42" and got["participants"] == []


async def test_a_room_without_a_conversation_id_gets_a_new_one(client: AsyncTestClient[Litestar]) -> None:
    room = (await client.post("/v1/rooms", json={}, headers=AUTH)).json()
    assert len(room["conversation_id"]) == 36
    assert room["name"].startswith("call-")


async def test_idempotency_key_creates_the_room_once(
    client: AsyncTestClient[Litestar], livekit: LiveKitStandIn
) -> None:
    headers = {**AUTH, "Idempotency-Key": "order-7"}
    first = await client.post("/v1/rooms", json=BODY, headers=headers)
    again = await client.post("/v1/rooms", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["name"] == again.json()["name"]
    assert len(livekit.created) == 1
    other = await client.post("/v1/rooms", json={**BODY, "user_id": "bob"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")


async def test_concurrent_requests_with_one_idempotency_key_create_one_room(
    settings: Settings, livekit: LiveKitStandIn
) -> None:
    headers = {**AUTH, "Idempotency-Key": "order-8"}
    async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        answers = await asyncio.gather(*[client.post("/v1/rooms", json=BODY, headers=headers) for _ in range(8)])
        retried = await client.post("/v1/rooms", json=BODY, headers=headers)
    made = {r.json()["name"] for r in answers if r.status_code == 201}
    assert len(made) == 1
    # Those in flight with the winner get a 409 that says to retry (what the IETF draft asks); one that came
    # after it gets its room. The race is real: at least one request lost it.
    refused = [r for r in answers if r.status_code != 201]
    assert refused and all(r.status_code == 409 for r in refused)
    assert {r.json()["detail"] for r in refused} == {
        "a request with this Idempotency-Key is in progress; retry it to get the room it creates"
    }
    assert list(livekit.rooms) == list(made)  # the losers' LiveKit rooms are deleted, not left to time out
    assert retried.json()["name"] in made


async def test_concurrent_requests_for_one_room_name_create_it_once_and_keep_it(
    settings: Settings, livekit: LiveKitStandIn
) -> None:
    async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        answers = await asyncio.gather(
            *[client.post("/v1/rooms", json={"name": "call-race"}, headers=AUTH) for _ in range(8)]
        )
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7
    assert {r.json()["detail"] for r in answers if r.status_code == 409} == {"room call-race already exists"}
    # LiveKit handed every request the same room: a loser deleting it would take the winner's call away.
    assert "call-race" in livekit.rooms and "call-race" not in livekit.deleted


@pytest.mark.parametrize("failure", ["error", "down"])
async def test_livekit_failing_is_a_503_problem_and_nothing_is_stored(
    client: AsyncTestClient[Litestar],
    livekit: LiveKitStandIn,
    nats_url: str,
    failure: str,
) -> None:
    await provisioned(nats_url)
    if failure == "error":
        livekit.mode = "error"
    else:
        await livekit.stop()
    r = await client.post("/v1/rooms", json={**BODY, "name": "call-x"}, headers=AUTH)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]
    assert (await client.get("/v1/rooms/call-x", headers=AUTH)).status_code == 404
    assert (await client.get("/v1/rooms", headers=AUTH)).json()["items"] == []
    assert await published(nats_url) == []


async def test_join_token_grants_only_joining_that_room(client: AsyncTestClient[Litestar]) -> None:
    await client.post("/v1/rooms", json={**BODY, "name": "call-t"}, headers=AUTH)
    r = await client.post("/v1/rooms/call-t/tokens", json={"identity": "ada", "ttl_seconds": 600}, headers=AUTH)
    assert r.status_code == 201
    body = r.json()
    claims = api.TokenVerifier(LK_KEY, LK_SECRET).verify(body["token"])
    assert claims.identity == "ada"
    assert claims.video is not None
    assert claims.video.room_join and claims.video.room == "call-t"
    assert not claims.video.room_create and not claims.video.room_admin and not claims.video.room_list
    assert (await client.post("/v1/rooms/nope/tokens", json={"identity": "a"}, headers=AUTH)).status_code == 404
    too_long = await client.post("/v1/rooms/call-t/tokens", json={"identity": "a", "ttl_seconds": 10**7}, headers=AUTH)
    # Refused by validation: the document states the cap (ROOMS_MAX_TOKEN_TTL_SECONDS) as ttl_seconds' maximum.
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["key"] == "ttl_seconds"
    assert (await client.post("/v1/rooms/call-t/tokens", json={}, headers=AUTH)).status_code == 400


async def test_deleting_a_room_ends_it_once(
    client: AsyncTestClient[Litestar],
    livekit: LiveKitStandIn,
    nats_url: str,
) -> None:
    await provisioned(nats_url)
    await client.post("/v1/rooms", json={**BODY, "name": "call-d"}, headers=AUTH)
    assert (await client.delete("/v1/rooms/call-d", headers=AUTH)).status_code == 204
    assert (await client.delete("/v1/rooms/call-d", headers=AUTH)).status_code == 204
    assert livekit.deleted == ["call-d"]
    assert (await client.get("/v1/rooms/call-d", headers=AUTH)).json()["status"] == "ended"
    kinds = [type(e).__name__ for e in await published(nats_url)]
    assert kinds == ["RoomCreated", "RoomFinished"]
    assert (await client.post("/v1/rooms/call-d/tokens", json={"identity": "a"}, headers=AUTH)).status_code == 409


async def test_rooms_api_requires_the_api_key_and_lists_with_filters(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/v1/rooms")).status_code == 401
    assert (await client.post("/v1/rooms", json={})).status_code == 401
    for i in range(3):
        await client.post("/v1/rooms", json={"user_id": "ada" if i else "bob", "name": f"call-{i}"}, headers=AUTH)
    page = (await client.get("/v1/rooms?limit=2&user_id=ada", headers=AUTH)).json()
    assert [r["name"] for r in page["items"]] == ["call-2", "call-1"]
    assert page["next_cursor"] is None
    waiting = (await client.get("/v1/rooms?status=waiting&limit=1", headers=AUTH)).json()
    assert len(waiting["items"]) == 1 and waiting["next_cursor"]
    following = await client.get(f"/v1/rooms?status=waiting&limit=1&cursor={waiting['next_cursor']}", headers=AUTH)
    assert following.json()["items"][0]["name"] != waiting["items"][0]["name"]
    assert (await client.get("/v1/rooms?cursor=garbage", headers=AUTH)).status_code == 400
    assert (await client.get("/v1/rooms?status=bogus", headers=AUTH)).status_code == 400
    assert (await client.post("/v1/rooms", json={"name": "bad name!"}, headers=AUTH)).status_code == 400
    assert (await client.post("/v1/rooms", json={"unknown": 1}, headers=AUTH)).status_code == 400


async def test_a_room_is_created_while_nats_is_down_and_its_event_waits_on_disk(settings: Settings) -> None:
    offline = msgspec.structs.replace(settings, nats_url=f"nats://127.0.0.1:{free_port()}")
    async with AsyncTestClient(app=create_app(offline)) as client:
        assert (await client.get("/ready?require=postgres")).status_code == 200  # stays in its Service
        r = await client.post("/v1/rooms", json=BODY, headers=AUTH)
        assert r.status_code == 201, r.text
        name = r.json()["name"]
    # What the outbox publishes once NATS answers again (subject, payload, headers per line):
    entries = [json.loads(line) for line in offline.outbox_spill.read_text().splitlines()]
    events = [c.decode(base64.b64decode(data)) for _, data, _ in entries]
    assert [(type(e), e.room_name) for e in events] == [(c.RoomCreated, name)]  # type: ignore[union-attr]


async def test_a_token_carries_the_callers_metadata_and_attributes_and_cannot_pose_as_the_agent(
    client: AsyncTestClient[Litestar],
) -> None:
    await client.post("/v1/rooms", json={**BODY, "name": "call-m"}, headers=AUTH)
    body = {"identity": "ada", "metadata": '{"crm_id": "C-1042"}', "attributes": {"tier": "gold", "sip.x": "1"}}
    r = await client.post("/v1/rooms/call-m/tokens", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    claims = api.TokenVerifier(LK_KEY, LK_SECRET).verify(r.json()["token"])
    assert (claims.metadata, claims.attributes, claims.kind) == (body["metadata"], body["attributes"], "standard")
    assert claims.video is not None and not claims.video.agent and not claims.video.can_update_own_metadata
    for refused in ({"identity": "agent-AJ_1"}, {"identity": "ada", "attributes": {"lk.agent.state": "speaking"}}):
        answer = await client.post("/v1/rooms/call-m/tokens", json=refused, headers=AUTH)
        assert answer.status_code == 422, answer.text
    too_many = {"identity": "ada", "attributes": {f"k{i}": "v" for i in range(65)}}
    assert (await client.post("/v1/rooms/call-m/tokens", json=too_many, headers=AUTH)).status_code == 400


async def test_parallel_creations_never_go_over_the_limits_and_the_refused_get_429(
    settings: Settings, livekit: LiveKitStandIn
) -> None:
    limited = msgspec.structs.replace(settings, max_active_rooms=5, max_active_rooms_per_user=3)
    async with served(create_app(limited)) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        bodies = [{"user_id": "ada"}] * 6 + [{"user_id": f"user-{n}"} for n in range(6)]
        answers = await asyncio.gather(*[client.post("/v1/rooms", json=b, headers=AUTH) for b in bodies])
    made = [r.json() for r in answers if r.status_code == 201]
    refused = [r for r in answers if r.status_code != 201]
    assert len(made) == 5 and sum(m["user_id"] == "ada" for m in made) <= 3
    assert all(r.status_code == 429 and int(r.headers["retry-after"]) >= 1 for r in refused)
    assert sorted(livekit.rooms) == sorted(m["name"] for m in made)  # nothing made in LiveKit for the refused
