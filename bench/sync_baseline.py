"""The synchronous baseline: the seed's earlier design, where the agent awaited an HTTP POST per turn
(`save_conversation_turn`) and a small Litestar endpoint inserted one row before answering.

    python -m bench.sync_baseline serve <database_url> <port>     (run by bench.run)
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, post

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


if __name__ == "__main__":
    _, _, url, port = sys.argv
    app = create_app(url)
    heap.settle()  # as Parley's services do, so the comparison is about the design, not the interpreter
    # httptools and uvloop, as Parley's services run (uvicorn[standard]); h11 cost each turn ~0.3 ms more.
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False, http="httptools")
