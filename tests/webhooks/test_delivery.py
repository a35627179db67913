"""Delivery to real local receivers: signed as Standard Webhooks says, retried with one webhook-id, logged,
replayable; 410 disables; a slow receiver delays no other; private targets refused; erasure forgets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from standardwebhooks import Webhook

import parley_contracts as c
from tests.support import eventually
from tests.support.events import started, turn

from .conftest import Hooks

TURNS = ["turn_completed.v1"]


async def test_an_endpoint_receives_the_events_it_named_signed_with_its_secret(hooks: Hooks) -> None:
    endpoint = await hooks.endpoint("ok", TURNS)
    assert endpoint["secret"].startswith("whsec_") and endpoint["event_types"] == TURNS
    await hooks.publish(started("c1", "s1"), turn("c1", "s1", 1, "hello there"))
    await hooks.received("ok", 1)
    [got] = hooks.receiver.on("ok")
    payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "turn_completed.v1" and payload["data"]["text"] == "hello there"
    assert got.headers["webhook-id"].startswith("msg_")
    listed = (await hooks.api.get(f"/v1/endpoints/{endpoint['id']}")).json()
    assert "secret" not in listed and listed["enabled"] is True


async def test_a_receiver_failing_twice_gets_one_webhook_id_three_times_and_the_log_shows_it(hooks: Hooks) -> None:
    hooks.receiver.script["flaky"] = [500, 503, 204]
    endpoint = await hooks.endpoint("flaky", TURNS)
    await hooks.publish(turn("c1", "s1", 1))
    await hooks.received("flaky", 3)
    ids = {r.headers["webhook-id"] for r in hooks.receiver.on("flaky")}
    assert len(ids) == 1
    for r in hooks.receiver.on("flaky"):
        Webhook(endpoint["secret"]).verify(r.body, r.headers)  # each attempt signed afresh
    [delivery] = await eventually(lambda: _delivered(hooks, endpoint["id"]), timeout=10, what="the log")
    assert delivery["webhook_id"] in ids and [a["status_code"] for a in delivery["attempts"]] == [500, 503, 204]
    replayed = await hooks.api.post(f"/v1/deliveries/{delivery['webhook_id']}/replay")
    assert replayed.status_code == 202
    await hooks.received("flaky", 4)
    assert hooks.receiver.on("flaky")[-1].headers["webhook-id"] == delivery["webhook_id"]


async def _delivered(hooks: Hooks, endpoint_id: str) -> list[dict[str, Any]] | None:
    items = await hooks.deliveries(endpoint_id)
    return items if items and all(d["status"] == "delivered" for d in items) else None


async def test_410_disables_the_endpoint_and_fails_what_it_had_queued(hooks: Hooks) -> None:
    hooks.receiver.script["gone"] = [410]
    endpoint = await hooks.endpoint("gone", TURNS)
    await hooks.publish(turn("c1", "s1", 1))
    await hooks.received("gone", 1)

    async def disabled() -> dict[str, Any] | None:
        found: dict[str, Any] = (await hooks.api.get(f"/v1/endpoints/{endpoint['id']}")).json()
        return found if not found["enabled"] else None

    found = await eventually(disabled, timeout=10, what="the endpoint disabled")
    assert found["disabled_reason"] == "the endpoint answered 410 Gone"
    await hooks.publish(turn("c1", "s1", 2))  # nothing more goes to it
    [delivery] = await hooks.deliveries(endpoint["id"])
    assert delivery["status"] == "failed" and len(hooks.receiver.on("gone")) == 1
    again = await hooks.api.patch(f"/v1/endpoints/{endpoint['id']}", json={"enabled": True})
    assert again.json()["enabled"] is True and again.json().get("disabled_reason") is None


async def test_a_slow_receiver_delays_no_other(make_hooks: Callable[..., Any]) -> None:
    async with make_hooks(per_endpoint_concurrency=2) as hooks:
        hooks.receiver.delays["slow"] = 2.0
        await hooks.endpoint("slow", TURNS)
        await hooks.endpoint("fast", TURNS)
        await hooks.publish(*(turn("c1", "s1", n) for n in range(1, 11)))
        await hooks.received("fast", 10, timeout=10)
        assert len(hooks.receiver.on("slow")) <= 2  # still at its first two while the other has all ten
        assert hooks.receiver.most_in_flight["slow"] <= 2


async def test_private_targets_are_refused_at_registration_and_at_every_connect(
    make_hooks: Callable[..., Any],
) -> None:
    async with make_hooks(allow_private_targets=False) as hooks:
        literal = await hooks.api.post("/v1/endpoints", json={"url": "http://127.0.0.1:9/x"})
        assert literal.status_code == 400 and "not a public address" in literal.json()["detail"]
        metadata = await hooks.api.post("/v1/endpoints", json={"url": "http://169.254.169.254/latest/meta-data"})
        assert metadata.status_code == 400
        # A name passes registration; it resolves to 127.0.0.1 when the delivery connects, and is refused there.
        port = hooks.receiver_url.rsplit(":", 1)[1]
        named = await hooks.api.post("/v1/endpoints", json={"url": f"http://localhost:{port}/named",
                                                             "event_types": TURNS})  # fmt: skip
        assert named.status_code == 201
        await hooks.publish(turn("c1", "s1", 1))

        async def refused() -> list[dict[str, Any]] | None:
            items = await hooks.deliveries(named.json()["id"])
            return items if items and items[0]["attempts"] else None

        [delivery] = await eventually(refused, timeout=10, what="an attempt")
        assert "not a public address" in delivery["attempts"][0]["error"]
        assert hooks.receiver.on("named") == []


async def test_erasure_deletes_the_conversations_queued_and_logged_deliveries(hooks: Hooks) -> None:
    endpoint = await hooks.endpoint("ok", TURNS)
    await hooks.publish(turn("gone", "s1", 1), turn("kept", "s2", 1))
    await hooks.received("ok", 2)
    await eventually(lambda: _delivered(hooks, endpoint["id"]), timeout=10, what="both delivered")
    await hooks.publish(c.ConversationErased(event_id=c.new_event_id(), occurred_at=c.utcnow(),
                                             conversation_id="gone", producer="history"))  # fmt: skip

    async def forgotten() -> bool:
        return [d["conversation_id"] for d in await hooks.deliveries(endpoint["id"])] == ["kept"]

    await eventually(forgotten, timeout=10, what="the erased conversation's deliveries deleted")
    await hooks.publish(turn("gone", "s1", 2))  # a late event of it
    await hooks.publish(turn("kept", "s2", 2))
    await hooks.received("ok", 3)
    sent = sorted(json.loads(r.body)["data"]["conversation_id"] for r in hooks.receiver.on("ok"))
    assert sent == ["gone", "kept", "kept"]  # the late event of the erased conversation was dropped


async def test_a_thousand_events_to_one_endpoint_all_arrive_within_its_bound(make_hooks: Callable[..., Any]) -> None:
    async with make_hooks(per_endpoint_concurrency=4, batch_size=200) as hooks:
        await hooks.endpoint("bulk", TURNS)
        await hooks.publish(*(turn("c1", "s1", n) for n in range(1, 1001)))
        await hooks.received("bulk", 1000, timeout=120)
        assert len({r.headers["webhook-id"] for r in hooks.receiver.on("bulk")}) == 1000
        assert hooks.receiver.most_in_flight["bulk"] <= 4  # at most the bound in flight: memory stays bounded


async def test_the_api_refuses_what_it_cannot_use(hooks: Hooks) -> None:
    for body in ({"url": "ftp://x.example/"}, {"url": "https://x.example/", "event_types": ["nope.v1"]},
                 {"url": "https://x.example/", "colour": "red"}):  # fmt: skip
        r = await hooks.api.post("/v1/endpoints", json=body)
        assert r.status_code == 400, body
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await hooks.api.get("/v1/endpoints/ep_" + "0" * 32)).status_code == 404
    assert (await hooks.api.post("/v1/deliveries/msg_" + "0" * 32 + "/replay")).status_code == 404


async def test_a_rotated_secret_signs_beside_the_old_one_and_a_test_message_arrives(hooks: Hooks) -> None:
    endpoint = await hooks.endpoint("rotating", TURNS)
    rotated = (await hooks.api.post(f"/v1/endpoints/{endpoint['id']}/rotate-secret")).json()
    new = rotated["endpoint"]["secret"]
    assert new != endpoint["secret"] and rotated["previous_secret_valid_until"]
    queued = await hooks.api.post(f"/v1/endpoints/{endpoint['id']}/test")
    assert queued.status_code == 202
    await hooks.received("rotating", 1)
    [got] = hooks.receiver.on("rotating")
    for secret in (new, endpoint["secret"]):
        assert Webhook(secret).verify(got.body, got.headers)["type"] == "webhook.test"
    assert got.headers["webhook-id"] == queued.json()["webhook_id"]
