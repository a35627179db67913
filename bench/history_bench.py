"""History benchmark: turns/s persisted through the consumer vs a bare JetStream fetch+ack ceiling,
and `history.v1.recent` latency with 100,000 turns stored.

    python -m bench.history_bench [--turns 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import nats
from nats.js.api import AckPolicy, ConsumerConfig

import parley_contracts as c
from bench.common import RARE_TEXT, TURN_TEXT, machine, percentile, prepare, publish_events, servers, table, turn
from parley_contracts.streams import HISTORY_RECENT_SUBJECT
from parley_history import queries
from parley_history.consumers import history_consumer
from parley_history.db import make_engine
from parley_history.request_reply import start_request_service
from parley_history.store import SqlHistoryStore
from parley_runtime import heap
from parley_runtime.messaging.pull import PullSubscription


async def publish(url: str, n: int, conversations: int) -> None:
    await publish_events(url, [turn(i % conversations, i // conversations + 1) for i in range(n)])


async def ceiling(url: str, n: int, batch: int, *, lean: bool = False) -> float:
    """Bare JetStream: fetch a batch, ack every message, nothing else.

    The reference loop uses nats-py's own `fetch` (the standard client, as in the NATS notes' figures);
    `lean=True` runs the same loop on Parley's pull client (parley_runtime.messaging.pull), which the consumers use.
    """
    name = "ceiling-lean" if lean else "ceiling"
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_consumer(
        "VOICE",
        ConsumerConfig(
            durable_name=name,
            ack_policy=AckPolicy.EXPLICIT,
            max_ack_pending=10_000,
            filter_subjects=["voice.turn_completed.v1.*"],
        ),
    )
    sub: Any = (
        await PullSubscription(nc, "VOICE", name).start()
        if lean
        else await js.pull_subscribe_bind(name, stream="VOICE")
    )
    done, started = 0, time.perf_counter()
    while done < n:
        for m in await sub.fetch(batch, timeout=5):
            await m.ack()
            done += 1
    elapsed = time.perf_counter() - started
    await nc.close()
    return n / elapsed


async def parley(url: str, db: str, n: int, batch: int) -> float:
    """The real history consumer: decode, plan, one transaction per batch, ack."""
    engine = make_engine(db)
    nc = await nats.connect(url)
    consumer = history_consumer(nc, SqlHistoryStore(engine), batch_size=batch)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run(stop))
    while consumer.stats.acked < n:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await nc.close()
    await engine.dispose()
    return n / elapsed


async def recent_latency(
    url: str, db: str, conversations: int, requests: int = 2000, *, prefix: str = "conv-"
) -> tuple[float, float]:
    """`history.v1.recent` for 20 turns, round trip through NATS, over conversations `<prefix>00000`..."""
    engine = make_engine(db)
    nc = await nats.connect(url)
    service = await start_request_service(nc, engine, version="0.0.0", timeout=1)
    client = await nats.connect(url)
    samples = []
    for i in range(requests):
        body = json.dumps({"conversation_id": f"{prefix}{i % conversations:05d}", "limit": 20}).encode()
        t = time.perf_counter()
        reply = await client.request(HISTORY_RECENT_SUBJECT, body, timeout=2)
        samples.append((time.perf_counter() - t) * 1000)
        assert not (reply.headers or {}).get("Nats-Service-Error-Code"), reply.headers
        assert json.loads(reply.data)["turns"], "the benchmark must ask for conversations that exist"
    await service.stop()
    await client.close()
    await nc.close()
    await engine.dispose()
    return percentile(samples, 50), percentile(samples, 99)


async def search_latency(db: str, *, requests: int = 200, broad_requests: int = 5) -> dict[str, float]:
    """The REST search's query (`queries.search_turns`, 20 hits) over what `load_turns` stored: a word one
    turn in 1,000 holds, a word every other turn holds within one conversation, and that word everywhere (ranking
    reads each match, so that one costs in proportion to the table). No time budget, to see the real cost."""
    engine = make_engine(db)
    found: dict[str, list[float]] = {"rare": [], "scoped": [], "broad": []}
    runs = {"rare": ("refund", None, requests), "scoped": ("appointment", "big-00001", requests),
            "broad": ("appointment", None, broad_requests)}  # fmt: skip
    async with engine.connect() as conn:
        for name, (query, conversation_id, n) in runs.items():
            for _ in range(n):
                t = time.perf_counter()
                hits, _ = await queries.search_turns(
                    conn, query=query, user_id=None, conversation_id=conversation_id, limit=20, offset=0,
                    timeout_seconds=600,
                )  # fmt: skip
                found[name].append((time.perf_counter() - t) * 1000)
                assert hits, f"the {name} search must find turns"
                await conn.rollback()
    await engine.dispose()
    return {
        "search_rare_p50_ms": round(percentile(found["rare"], 50), 2),
        "search_rare_p99_ms": round(percentile(found["rare"], 99), 2),
        "search_scoped_p50_ms": round(percentile(found["scoped"], 50), 2),
        "search_scoped_p99_ms": round(percentile(found["scoped"], 99), 2),
        "search_broad_p50_ms": round(percentile(found["broad"], 50)),
    }


async def load_turns(db: str, total: int, conversations: int) -> None:
    """Bulk-load turns straight into the history tables (COPY), to measure reads at scale: conversations
    `big-00000`..., and one turn in 1,000 says RARE_TEXT instead of TURN_TEXT (for search)."""
    conn = await asyncpg.connect(db)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    ids = [f"big-{i:05d}" for i in range(conversations)]
    await conn.copy_records_to_table(
        "conversations",
        schema_name="history",
        columns=["id", "user_id", "started_at", "last_activity_at"],
        records=[(cid, None, t0, t0) for cid in ids],
    )
    await conn.copy_records_to_table(
        "sessions", schema_name="history", columns=["id", "conversation_id"], records=[(cid, cid) for cid in ids]
    )
    per = total // conversations
    batch: list[tuple[object, ...]] = []
    for i in range(total):
        cid = ids[i % conversations]
        seq = i // conversations + 1
        batch.append(
            (
                c.new_event_id(),
                cid,
                cid,
                seq,
                "user" if seq % 2 else "assistant",
                RARE_TEXT if i % 1000 == 999 else TURN_TEXT,
                False,
                t0 + timedelta(seconds=seq),
            )
        )
        if len(batch) == 50_000 or i == total - 1:
            await conn.copy_records_to_table(
                "turns",
                schema_name="history",
                columns=[
                    "event_id",
                    "conversation_id",
                    "session_id",
                    "seq",
                    "role",
                    "text",
                    "interrupted",
                    "occurred_at",
                ],
                records=batch,
            )
            batch = []
    await conn.execute("ANALYZE history.turns")
    await conn.close()
    assert per > 0


async def main(n: int, conversations: int, batch: int) -> dict[str, float | str]:
    with servers() as s:
        db = await prepare(s)
        await publish(s.nats.url, n, conversations)
        ceil = await ceiling(s.nats.url, n, batch)
        lean = await ceiling(s.nats.url, n, batch, lean=True)
        ours = await parley(s.nats.url, db, n, batch)
        p50, p99 = await recent_latency(s.nats.url, db, conversations)
    return {
        "ceiling_turns_per_s": round(ceil),
        "parley_turns_per_s": round(ours),
        "parley_vs_ceiling": round(ours / ceil, 3),
        "ceiling_lean_pull_turns_per_s": round(lean),
        "parley_vs_lean_ceiling": round(ours / lean, 3),
        "recent_p50_ms": round(p50, 3),
        "recent_p99_ms": round(p99, 3),
        "turns_stored": n,
        "conversations": conversations,
        "machine": machine(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100_000)
    # 100 calls in flight at once is already a busy 2-core node; pass --conversations 1000 to see the spread case.
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--batch", type=int, default=1000, help="fetch batch, the same for both loops")
    args = parser.parse_args()
    heap.settle()  # as the service (or agent job process) this stands in for
    result = asyncio.run(main(args.turns, args.conversations, args.batch))
    print("history benchmark")
    print(table([(k, str(v)) for k, v in result.items()]))
