"""The synchronous baseline: the seed's earlier design, where the agent awaited an HTTP POST per turn
(`save_conversation_turn`) and a small Litestar endpoint inserted one row before answering.

    python -m bench.sync_baseline serve <database_url> <port>     (started by `measure`, run by bench.run)
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, post

from bench.common import TURN_TEXT, percentile
from parley_devstack.ports import free_port, wait_for_port
from parley_runtime import heap

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS baseline;
CREATE TABLE IF NOT EXISTS baseline.turns (
    id bigserial PRIMARY KEY, conversation_id text NOT NULL, seq int NOT NULL, role text NOT NULL,
    text text NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
);
"""


class TurnIn(msgspec.Struct):
    conversation_id: str
    seq: int
    role: str
    text: str


def create_app(database_url: str) -> Litestar:
    pool: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        pool["p"] = await asyncpg.create_pool(database_url, min_size=2, max_size=10)
        async with pool["p"].acquire() as conn:
            await conn.execute(SCHEMA)
        yield
        await pool["p"].close()

    @post("/turns", status_code=201)
    async def save_conversation_turn(data: TurnIn) -> dict[str, bool]:
        async with pool["p"].acquire() as conn:
            await conn.execute(
                "INSERT INTO baseline.turns (conversation_id, seq, role, text) VALUES ($1, $2, $3, $4)",
                data.conversation_id,
                data.seq,
                data.role,
                data.text,
            )
        return {"ok": True}

    return Litestar(route_handlers=[save_conversation_turn], lifespan=[lifespan], logging_config=None)


async def measure(db: str, n: int) -> tuple[float, float, float]:
    """The earlier design at its best: aiohttp, the HTTP session livekit-agents gives an agent (httpx here
    made each turn ~0.5 ms slower, uvicorn's pure-Python h11 another ~0.3 ms: both flattered Parley)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.sync_baseline", "serve", db, str(port)])  # noqa: ASYNC220
    try:
        assert wait_for_port(port, timeout=30)
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as client:
            samples = []
            started = time.perf_counter()
            for i in range(n):  # what the seed did: await each save before the call goes on
                t = time.perf_counter()
                turn = {"conversation_id": f"conv-{i % 50}", "seq": i, "role": "user", "text": TURN_TEXT}
                async with client.post("/turns", json=turn) as response:
                    response.raise_for_status()
                    await response.read()
                samples.append((time.perf_counter() - t) * 1000)
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)
    return n / elapsed, percentile(samples, 50), percentile(samples, 99)


if __name__ == "__main__":
    _, _, url, port = sys.argv
    app = create_app(url)
    heap.settle()  # as Parley's services do, so the comparison is about the design, not the interpreter
    # httptools and uvloop, as Parley's services run (uvicorn[standard]): the baseline at its best.
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False, http="httptools")
