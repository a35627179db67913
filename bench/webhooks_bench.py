"""How many webhooks a second one endpoint receives, and how long an event takes to reach it.

A real NATS and PostgreSQL, the webhooks service as its own process (default settings: at most 4 deliveries in
flight to one endpoint), and a local receiver that answers 204. First a burst: `--events` turn events published
as fast as JetStream takes them, for the rate (`webhooks_per_s`: events over the time until the last arrived).
Then a steady `--rate` events a second for `--seconds`: each one's latency runs from its `occurred_at` (stamped as
it is published) to its arrival at the receiver (`webhook_p50_ms`, `webhook_p99_ms`).

    python -m bench.webhooks_bench [--events 5000] [--rate 100] [--seconds 20]

Adds `webhooks_per_s`, `webhook_p50_ms`, `webhook_p99_ms` and `webhooks_peak_rss_mb` to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import msgspec
import nats
from litestar import Litestar, Request, post
from litestar.status_codes import HTTP_204_NO_CONTENT
from parley_webhooks.db import migrate_async

import parley_contracts as c
from bench.common import machine, percentile, servers, table, turn
from parley_devstack.ports import free_port
from parley_runtime.messaging.entries import event_headers
from parley_runtime.messaging.provision import provision
from tests.support.serving import served

RESULTS = Path(__file__).parent / "results.json"
KEY = "bench-key"


def receiver(arrivals: list[tuple[float, str]]) -> Litestar:
    @post("/hook", status_code=HTTP_204_NO_CONTENT)
    async def hook(request: Request[Any, Any, Any]) -> None:
        body = msgspec.json.decode(await request.body())
        arrivals.append((time.time(), body["data"]["occurred_at"]))

    return Litestar([hook])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _spawn(db: str, nats_url: str, port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEBHOOKS_DATABASE_URL": db, "WEBHOOKS_NATS_URL": nats_url, "WEBHOOKS_API_KEYS": KEY,
           "WEBHOOKS_SECRET_KEY": "bench-secret-key-bench-secret-key!", "WEBHOOKS_PORT": str(port),
           "WEBHOOKS_HOST": "127.0.0.1", "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
           "WEBHOOKS_LOG_LEVEL": "WARNING"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "parley_webhooks"], env=env, stdout=log, stderr=log)


async def _publish(url: str, n: int, *, chunk: int, pause: float) -> None:
    """`n` turn events, `chunk` at a time, each chunk stamped as it goes out, `pause` seconds apart."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    for start in range(0, n, chunk):
        now = datetime.now(UTC)
        batch = [msgspec.structs.replace(turn(i, 1), occurred_at=now) for i in range(start, min(n, start + chunk))]
        await asyncio.gather(*(js.publish(c.subject_for(e), c.encode(e), headers=event_headers(e)) for e in batch))
        if pause:
            await asyncio.sleep(pause)  # the pace of the steady phase
    await nc.close()


async def _arrived(arrivals: list[tuple[float, str]], n: int) -> None:
    deadline = time.monotonic() + 600
    while len(arrivals) < n:
        assert time.monotonic() < deadline, f"only {len(arrivals)} of {n} arrived"
        await asyncio.sleep(0.05)  # polling the receiver's count


async def run(events: int, rate: int, seconds: int) -> dict[str, object]:
    with servers() as s:
        db = s.postgres.url("parley")
        await migrate_async(db)
        nc = await nats.connect(s.nats.url)
        await provision(nc.jetstream())
        await nc.close()
        port = free_port()
        log = (s.logs / "webhooks.log").open("ab")
        proc = _spawn(db, s.nats.url, port, log)
        arrivals: list[tuple[float, str]] = []
        try:
            async with (
                served(receiver(arrivals)) as url,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}
                ) as api,
            ):
                for _ in range(300):
                    try:
                        if (await api.get("/ready")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)  # the process starting: nothing else to wait on
                made = await api.post(
                    "/v1/endpoints", json={"url": f"{url}/hook", "event_types": ["turn_completed.v1"]}
                )
                assert made.status_code == 201, made.text
                started = time.time()
                await _publish(s.nats.url, events, chunk=500, pause=0.0)
                await _arrived(arrivals, events)
                elapsed = max(t for t, _ in arrivals) - started
                arrivals.clear()
                await _publish(s.nats.url, rate * seconds, chunk=max(1, rate // 20), pause=0.05)
                await _arrived(arrivals, rate * seconds)
            rss = _peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
            log.close()
    latencies = [(t - datetime.fromisoformat(at).timestamp()) * 1000 for t, at in arrivals]
    steady = {"webhooks_steady_rate_per_s": rate}
    return {
        "webhooks_per_s": round(events / elapsed), "webhook_p50_ms": round(percentile(latencies, 50), 1),
        "webhook_p99_ms": round(percentile(latencies, 99), 1), "webhooks_peak_rss_mb": rss,
        "webhooks_events": events, "webhooks_machine": machine(), **steady,
    }  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    found = asyncio.run(run(args.events, args.rate, args.seconds))
    merged = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps(merged | found, indent=2) + "\n")
    print(f"\nwebhooks benchmark (added to {args.out})")
    print(table([(k, str(v)) for k, v in found.items()]))
