"""SIGKILL of the webhooks service in the middle of a message's retries: a new process finishes it, with the
same webhook-id, and the receiver accepts it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client
from parley_webhooks.db import migrate_async
from sqlalchemy import text

from parley_devstack.ports import free_port
from parley_runtime import db
from tests.support import eventually
from tests.support.events import turn
from tests.support.receiver import Receiver
from tests.support.serving import served

from .conftest import API_KEY, SECRET_KEY, Hooks


def _spawn(database_url: str, nats_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEBHOOKS_DATABASE_URL": database_url, "WEBHOOKS_NATS_URL": nats_url,
           "WEBHOOKS_API_KEYS": API_KEY, "WEBHOOKS_SECRET_KEY": SECRET_KEY, "WEBHOOKS_HOST": "127.0.0.1",
           "WEBHOOKS_PORT": str(port), "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
           "WEBHOOKS_RETRY_SCHEDULE_SECONDS": "3,3,3,3"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "parley_webhooks"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)  # fmt: skip


async def _attempts(database_url: str) -> int:
    engine = db.make_engine(database_url, name="test", pool_size=1)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM webhooks.attempts"))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_kill_mid_retry_loses_nothing_and_sends_no_extra_success(
    database_url: str, nats_url: str, nc: Client, tmp_path: Path
) -> None:
    await migrate_async(database_url)
    receiver = Receiver(script={"flaky": [500, 204]})
    port = free_port()
    log = tmp_path / "webhooks.log"
    first = _spawn(database_url, nats_url, port, log)
    second = None
    try:
        async with (
            served(receiver.app()) as receiver_url,
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {API_KEY}"}
            ) as api,
        ):
            await eventually(lambda: _up(api), timeout=60, what="the service to start")
            hooks = Hooks(api, receiver, receiver_url, nc)
            endpoint = await hooks.endpoint("flaky", ["turn_completed.v1"])
            await hooks.publish(turn("c1", "s1", 1))
            await eventually(lambda: _attempts_at_least(database_url, 1), timeout=30, what="the first attempt")
            first.send_signal(signal.SIGKILL)  # no shutdown: its retry is only a row in Postgres
            first.wait(10)
            second = _spawn(database_url, nats_url, port, log)
            await hooks.received("flaky", 2, timeout=60)
            [delivery] = await eventually(lambda: _settled(hooks, endpoint["id"]), timeout=30, what="the log")
        ids = {r.headers["webhook-id"] for r in receiver.on("flaky")}
        assert ids == {delivery["webhook_id"]} and [r.status for r in receiver.on("flaky")] == [500, 204]
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 204]
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)


async def _up(api: httpx.AsyncClient) -> bool:
    try:
        return (await api.get("/health")).status_code == 200
    except httpx.HTTPError:
        return False


async def _attempts_at_least(database_url: str, n: int) -> bool:
    return await _attempts(database_url) >= n


async def _settled(hooks: Hooks, endpoint_id: str) -> list[dict[str, Any]] | None:
    items = await hooks.deliveries(endpoint_id)
    return items if items and items[0]["status"] == "delivered" else None
