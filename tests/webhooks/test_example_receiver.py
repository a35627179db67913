"""examples/webhook_receiver.py against the webhooks service: it verifies what Parley signs and refuses the rest."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from parley_devstack.ports import free_port
from tests.support import ROOT, eventually
from tests.support.events import turn

from .conftest import Hooks


async def test_the_example_receiver_accepts_what_parley_signs_and_refuses_a_forgery(hooks: Hooks) -> None:
    port = free_port()
    made = await hooks.api.post("/v1/endpoints", json={"url": f"http://127.0.0.1:{port}/",
                                                       "event_types": ["turn_completed.v1"]})  # fmt: skip
    endpoint = made.json()
    env = {**os.environ, "WEBHOOK_SECRET": endpoint["secret"]}
    receiver = subprocess.Popen([sys.executable, str(ROOT / "examples" / "webhook_receiver.py"), str(port)], env=env,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().startswith("listening")
        await hooks.publish(turn("c1", "s1", 1))

        async def delivered() -> bool:
            items = await hooks.deliveries(endpoint["id"])
            return bool(items) and items[0]["status"] == "delivered"

        await eventually(delivered, timeout=30, what="the delivery accepted")
        assert receiver.stdout.readline().startswith("turn_completed.v1 msg_")
        async with httpx.AsyncClient() as client:
            forged = await client.post(f"http://127.0.0.1:{port}/", content=b'{"type":"x"}', headers={
                "webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"})  # fmt: skip
        assert forged.status_code == 400 and receiver.stdout.readline().startswith("refused")
    finally:
        receiver.terminate()
        receiver.wait(10)
