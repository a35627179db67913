"""LiveKit webhooks: signed as the LiveKit server signs them, or rejected with 401 and no effect."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from livekit import api

import parley_contracts as c

from .conftest import AUTH, LK_KEY, LK_SECRET
from .helpers import published, signed_webhook

HEADERS = {"Content-Type": "application/webhook+json"}


def _event(kind: str, room: str = "call-w", identity: str = "", event_id: str = "EV_1") -> api.WebhookEvent:
    return api.WebhookEvent(
        event=kind,
        id=event_id,
        created_at=1_795_000_000,
        room=api.Room(name=room, sid="RM_w"),
        participant=api.ParticipantInfo(identity=identity) if identity else None,
    )


async def _post(client: AsyncTestClient[Litestar], body: str, auth: str | None) -> int:
    headers = dict(HEADERS) | ({"Authorization": auth} if auth is not None else {})
    return (await client.post("/v1/livekit/webhook", content=body.encode(), headers=headers)).status_code


async def test_signed_room_finished_ends_the_room_once_even_when_replayed(
    client: AsyncTestClient[Litestar],
    nats_url: str,
) -> None:
    await client.post("/v1/rooms", json={"name": "call-w", "conversation_id": "conv-w"}, headers=AUTH)
    body, auth = signed_webhook(_event("room_finished"), LK_KEY, LK_SECRET)
    assert await _post(client, body, auth) == 200
    assert await _post(client, body, auth) == 200  # LiveKit retries: a replay
    assert (await client.get("/v1/rooms/call-w", headers=AUTH)).json()["status"] == "ended"
    events = await published(nats_url)
    finished = [e for e in events if isinstance(e, c.RoomFinished)]
    assert len(finished) == 1
    assert finished[0].conversation_id == "conv-w" and finished[0].room_sid == "RM_w"


async def test_participant_webhooks_update_the_room_and_are_published(
    client: AsyncTestClient[Litestar],
    nats_url: str,
) -> None:
    await client.post("/v1/rooms", json={"name": "call-w"}, headers=AUTH)
    for kind, event_id in (("participant_joined", "EV_j"), ("participant_left", "EV_l")):
        body, auth = signed_webhook(_event(kind, identity="ada", event_id=event_id), LK_KEY, LK_SECRET)
        assert await _post(client, body, auth) == 200
    room = (await client.get("/v1/rooms/call-w", headers=AUTH)).json()
    assert [(p["identity"], p["left_at"] is not None) for p in room["participants"]] == [("ada", True)]
    events = await published(nats_url)
    # LiveKit's view of the room, under its own types: `participant_joined.v1` is the agent's alone.
    assert [type(e).__name__ for e in events] == ["RoomCreated", "RoomParticipantJoined", "RoomParticipantLeft"]
    assert all(e.producer == "rooms" and isinstance(e, c.RoomEvent) for e in events)
    joined = events[1]
    assert isinstance(joined, c.RoomParticipantJoined)
    assert (joined.room_name, joined.identity, joined.kind) == ("call-w", "ada", "standard")


def _tampered() -> tuple[str, str]:
    body, auth = signed_webhook(_event("room_finished"), LK_KEY, LK_SECRET)
    return body.replace("call-w", "call-x"), auth


@pytest.mark.parametrize(
    "attack",
    ["tampered-body", "wrong-secret", "expired", "bearer-prefix", "missing-header", "garbage-token"],
)
async def test_bad_or_missing_signatures_are_401_and_change_nothing(
    client: AsyncTestClient[Litestar],
    nats_url: str,
    attack: str,
) -> None:
    await client.post("/v1/rooms", json={"name": "call-w"}, headers=AUTH)
    await client.post("/v1/rooms", json={"name": "call-x"}, headers=AUTH)
    event = _event("room_finished")
    body, auth = signed_webhook(event, LK_KEY, LK_SECRET)
    header: str | None = auth
    if attack == "tampered-body":
        body, header = _tampered()
    elif attack == "wrong-secret":
        body, header = signed_webhook(event, LK_KEY, "another-secret-that-is-long-enough!!")
    elif attack == "expired":
        body, header = signed_webhook(event, LK_KEY, LK_SECRET, ttl=timedelta(minutes=-5))
    elif attack == "bearer-prefix":
        header = f"Bearer {auth}"
    elif attack == "missing-header":
        header = None
    elif attack == "garbage-token":
        header = "not-a-jwt"
    r = await client.post(
        "/v1/livekit/webhook",
        content=body.encode(),
        headers=dict(HEADERS) | ({"Authorization": header} if header is not None else {}),
    )
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    for name in ("call-w", "call-x"):
        assert (await client.get(f"/v1/rooms/{name}", headers=AUTH)).json()["status"] == "waiting"
    assert [type(e).__name__ for e in await published(nats_url)] == ["RoomCreated", "RoomCreated"]


async def test_webhook_needs_no_api_key_but_an_unknown_room_changes_nothing(client: AsyncTestClient[Litestar]) -> None:
    body, auth = signed_webhook(_event("room_finished", room="not-ours"), LK_KEY, LK_SECRET)
    r = await client.post("/v1/livekit/webhook", content=body.encode(), headers=dict(HEADERS) | {"Authorization": auth})
    assert r.status_code == 200
    assert r.json() == {"applied": False}


async def test_a_signed_webhook_with_a_text_postgres_cannot_store_is_a_400_problem_with_no_effect(
    client: AsyncTestClient[Litestar],
) -> None:
    # Nothing validates a LiveKit participant's identity before it reaches Postgres, which cannot store a NUL:
    # this answered 500 before such errors were told apart from bugs.
    await client.post("/v1/rooms", json={"name": "call-w"}, headers=AUTH)
    body, auth = signed_webhook(_event("participant_joined", identity="ada\x00", event_id="EV_n"), LK_KEY, LK_SECRET)
    r = await client.post("/v1/livekit/webhook", content=body.encode(), headers=HEADERS | {"Authorization": auth})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert "NUL" in r.json()["detail"]
    assert (await client.get("/v1/rooms/call-w", headers=AUTH)).json()["participants"] == []


@pytest.mark.parametrize("body", [b"garbage", b"[1, 2]", b'{"event": "room_finished", "createdAt": "1e99"}'])
async def test_a_signed_body_that_is_no_webhook_event_is_a_400_problem_not_a_401(
    client: AsyncTestClient[Litestar],
    body: bytes,
) -> None:
    # Signed by our LiveKit, so the signature is not what is wrong: a 401 sent an operator after the keys.
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    auth = api.AccessToken(LK_KEY, LK_SECRET).with_sha256(sha).to_jwt()
    r = await client.post("/v1/livekit/webhook", content=body, headers=HEADERS | {"Authorization": auth})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "LiveKit webhook body is not a webhook event"
