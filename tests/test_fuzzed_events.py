"""Mutated events, published to the stream the way any producer could, never make a consumer retry: each is
either handled or dead-lettered on its first delivery. A value a service cannot store is no reason to come
back to it 40 times over half an hour, holding a slot of `max_ack_pending` meanwhile."""

from __future__ import annotations

import copy
import json
import random
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from nats.aio.client import Client

from tests.support import eventually

from .services import SERVICES, create_app, service_settings

GOLDEN = {p.stem: json.loads(p.read_text()) for p in (Path(__file__).parent / "contracts" / "golden").glob("*.json")}
ODD: list[Any] = [
    "", " ", "x" * 5000, "\x00", "é🙂\u202e", None, -1, 0, 2**31, 2**63, 1.5, True, [], {}, "\n",
    "2026-13-45T99:99:99Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00", "a.b", "*", ">", "../../etc",
]  # fmt: skip


def _mutated(rnd: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for _ in range(rnd.randint(1, 3)):
        key = rnd.choice([k for k in event if k != "type"])
        if rnd.random() < 0.2:
            del event[key]
        else:
            event[key] = rnd.choice(ODD)
    event["event_id"] = str(uuid.uuid4())
    return event


def _subject(name: str, event: dict[str, Any]) -> str:
    conv = event.get("conversation_id")
    ok = isinstance(conv, str) and 0 < len(conv) <= 128 and all(ch.isalnum() or ch in "-_" for ch in conv)
    return f"voice.{name}.{conv if ok else 'fuzzed'}"


async def test_no_mutated_event_is_delivered_twice(
    nc: Client, nats_url: str, database_url: str, tmp_path: Path
) -> None:
    rnd = random.Random(20261206)
    js = nc.jetstream()
    async with AsyncExitStack() as running:
        for service in SERVICES:
            settings = service_settings(service, database_url, tmp_path / service, nats_url=nats_url)
            await running.enter_async_context(AsyncTestClient(app=create_app(service, settings)))
        for _ in range(300):
            name, golden = rnd.choice(sorted(GOLDEN.items()))
            event = _mutated(rnd, golden)
            await js.publish(
                _subject(name, event), json.dumps(event).encode(), headers={"Nats-Msg-Id": event["event_id"]}
            )

        async def all_drained() -> dict[str, Any] | None:
            infos = {d: await js.consumer_info("VOICE", d) for d in SERVICES}
            return infos if all(i.num_pending == 0 and i.num_ack_pending == 0 for i in infos.values()) else None

        infos = await eventually(all_drained, timeout=60, interval=0.2, what="every consumer drained")
    assert {d: i.num_redelivered for d, i in infos.items()} == dict.fromkeys(SERVICES, 0)
    assert (await js.stream_info("VOICE")).state.messages == 300  # every one stored, so every one seen
