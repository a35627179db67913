"""Agent benchmark: what `emit()` costs on the call's event loop (NATS up and down), and how much memory
a call's in-memory state holds per turn.

    python -m bench.agent_bench [--emits 20000] [--turns 720]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import nats

from bench.common import machine, percentile, table, turn
from parley_agent.state import CallState
from parley_devstack.nats_server import NatsServer
from parley_runtime import heap
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.messaging.provision import provision


async def emit_costs(outbox: Outbox, n: int) -> list[float]:
    events = [turn(i % 50, i // 50 + 1) for i in range(n)]
    samples = []
    clock = time.perf_counter_ns
    for i, event in enumerate(events):
        t = clock()
        outbox.emit(event)
        samples.append((clock() - t) / 1000)
        if i % 500 == 0:
            await asyncio.sleep(0)  # let the publisher run, as a real call's loop would
    return samples


async def emit_benchmark(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "nats").start()
        try:
            nc = await nats.connect(server.url)
            await provision(nc.jetstream())
            await nc.close()
            up = Outbox(NatsSettings(url=server.url), name="bench", maxsize=n + 1).start()
            await up.connected()
            up_samples = await emit_costs(up, n)
            await up.drain(60)
            await up.close()
            server.stop()
            # NATS is down on purpose from here: the connection and outbox errors it logs are expected.
            logging.getLogger("parley_runtime").setLevel(logging.CRITICAL)
            # With a spill file, as the agent has: the outage guard moves the backlog to disk meanwhile.
            spill = Path(tmp) / "outbox.jsonl"
            down = Outbox(
                NatsSettings(url=server.url, connect_timeout=0.2), name="bench", maxsize=n + 1, spill_path=spill
            ).start()
            down_samples = await emit_costs(down, n)
            await down.close(timeout=0)
            logging.getLogger("parley_runtime").setLevel(logging.NOTSET)
        finally:
            server.kill()
    return {
        "emit_p50_us": round(percentile(up_samples, 50), 2),
        "emit_p99_us": round(percentile(up_samples, 99), 2),
        "emit_down_p50_us": round(percentile(down_samples, 50), 2),
        "emit_down_p99_us": round(percentile(down_samples, 99), 2),
    }


def memory_per_turn(turns: int) -> dict[str, float]:
    """A one-hour call at one turn every five seconds (720 turns) of typical length."""
    text = "Sure, I can move your appointment to Friday at ten; shall I also send you a reminder?"
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    state = CallState(conversation_id="c", session_id="s", room_name="r", session_start=datetime.now(UTC))
    for i in range(turns):
        state.add_message("user" if i % 2 == 0 else "assistant", f"{text} #{i}", datetime.now(UTC))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    return {"state_bytes_per_turn": round(grown / turns, 1), "state_bytes_one_hour_call": grown}


async def main(emits: int, turns: int) -> dict[str, float | str]:
    result: dict[str, float | str] = {**(await emit_benchmark(emits)), **memory_per_turn(turns)}
    result["machine"] = machine()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emits", type=int, default=20_000)
    parser.add_argument("--turns", type=int, default=720)
    args = parser.parse_args()
    heap.settle()  # as the service (or agent job process) this stands in for
    result = asyncio.run(main(args.emits, args.turns))
    print("agent benchmark")
    print(table([(k, str(v)) for k, v in result.items()]))
