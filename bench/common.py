"""Shared benchmark plumbing: embedded servers in a temp dir, event factories, percentiles."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats

import parley_contracts as c
from parley_devstack.nats_server import NatsServer
from parley_devstack.ports import free_port
from parley_devstack.postgres_server import PostgresServer
from parley_devstack.testing import provisioned

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
# A typical assistant turn (85 characters): what Parley and the synchronous baseline both store.
TURN_TEXT = "Sure, I can move your appointment to Friday at ten; shall I also send you a reminder?"
RARE_TEXT = "I was charged twice, so I would like a refund for the second payment please."


@dataclass
class Servers:
    nats: NatsServer
    postgres: PostgresServer
    tmp: Path
    logs: Path  # the servers' and the history process's logs: `tmp`, unless the run keeps them elsewhere


@contextmanager
def servers(logs: Path | None = None) -> Iterator[Servers]:
    """A real NATS and a real PostgreSQL (durable settings, as in production) for one benchmark run.

    Their data lives in a temporary directory; their logs too, unless `logs` names a directory to keep them in.
    """
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        root = Path(tmp)
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
        kept = logs or root
        nats_server = NatsServer(root / "nats", log_path=kept / "nats.log").start()
        pg = PostgresServer(root / "pg", log_path=kept / "pg.log").start()
        pg.create_database("parley")
        try:
            yield Servers(nats_server, pg, root, kept)
        finally:
            pg.stop()
            nats_server.stop()


@contextmanager
def provisioned_nats(prefix: str) -> Iterator[tuple[str, Path]]:
    """A real NATS with Parley's streams and consumers, for a run that needs no database: its URL and a
    temporary directory the run may write in too (both gone afterwards)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        server = NatsServer(root / "nats").start()
        try:
            asyncio.run(provisioned(server.url))
            yield server.url, root
        finally:
            server.stop()


async def prepare(s: Servers) -> str:
    """Migrate the history schema and provision JetStream; returns the database URL."""
    from parley_history.db import migrate_async
    from parley_runtime.messaging.provision import provision

    db = s.postgres.url("parley")
    await migrate_async(db)
    nc = await nats.connect(s.nats.url)
    await provision(nc.jetstream())
    await nc.close()
    return db


async def history_process(
    db: str, nats_url: str, log: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The history service as in production, once it answers /ready (its start-up is not part of the figures)."""
    port = free_port()
    env = {
        **os.environ,
        "HISTORY_DATABASE_URL": db,
        "HISTORY_NATS_URL": nats_url,
        "HISTORY_API_KEYS": "bench",
        "HISTORY_HOST": "127.0.0.1",
        "HISTORY_PORT": str(port),
        "HISTORY_RUN_RECENT_SERVICE": "false",
        "HISTORY_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    process = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-m", "parley_history"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/ready")).status_code == 200:
                    return process
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError(f"history did not become ready; see {log}")


async def count_turns(conn: asyncpg.Connection, where: str = "") -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM history.turns {where}"))  # noqa: S608


async def until_stored(nats_url: str, conn: asyncpg.Connection, n: int, where: str = "") -> None:
    """Wait until the history consumer has acked everything (it acks after the commit), then check the rows.

    Polling count(*) on a growing table would load the database under test; consumer info costs NATS ~0.1 ms.
    """
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        while True:
            info = await js.consumer_info("VOICE", "history")
            if not info.num_pending and not info.num_ack_pending and await count_turns(conn, where) >= n:
                return
            await asyncio.sleep(0.02)
    finally:
        await nc.close()


async def _execute(db: str, *statements: str) -> Any:
    """Run the statements in turn on a connection of their own; the last one's first value."""
    conn = await asyncpg.connect(db)
    try:
        for sql in statements[:-1]:
            await conn.execute(sql)
        return await conn.fetchval(statements[-1])
    finally:
        await conn.close()


async def end_burst_checkpoint(db: str) -> None:
    """Finish the checkpoint a write burst started on a fresh database, as one in service has long done.

    The throughput runs write ≈ 600 MB of WAL into a cluster created minutes before. Until its first checkpoint
    ends (spread over 4.5 minutes) no WAL segment can be recycled, so each new 16 MB segment is written full of
    zeros and fsynced while every COMMIT waits (wait events WalInitWrite/WalInitSync, then the WALWrite lock).
    A database in service reuses the segments of its previous checkpoints instead (docs/performance.md).
    """
    await _execute(db, "CHECKPOINT")


async def log_slow_work(db: str) -> None:
    """Have Postgres log every statement over 20 ms and every autovacuum, to explain a latency tail afterwards."""
    await _execute(
        db,
        "ALTER SYSTEM SET log_min_duration_statement = 20",
        "ALTER SYSTEM SET log_autovacuum_min_duration = 0",
        "SELECT pg_reload_conf()",
    )


async def wal_segments_created(db: str) -> int:
    """How many WAL segments the server has written out new since its statistics began (PostgreSQL 18+)."""
    sql = "SELECT coalesce(sum(writes), 0) FROM pg_stat_io WHERE object = 'wal' AND context = 'init'"
    return int(await _execute(db, "SELECT pg_stat_force_next_flush()", sql))


async def publish_events(url: str, events: Sequence[c.Event], window: int = 512) -> None:
    """Publish straight to JetStream (each with its event id as `Nats-Msg-Id`), `window` acks in flight."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    for start in range(0, len(events), window):
        await asyncio.gather(
            *(
                js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": str(e.event_id)})
                for e in events[start : start + window]
            )
        )
    await nc.close()


def turn(conversation: int, seq: int, text: str = "I would like to move my appointment to Friday") -> c.TurnCompleted:
    return c.TurnCompleted(
        event_id=c.new_event_id(),
        occurred_at=T0 + timedelta(milliseconds=seq),
        conversation_id=f"conv-{conversation:05d}",
        session_id=f"sess-{conversation:05d}",
        producer="bench",
        seq=seq,
        role="user" if seq % 2 else "assistant",
        text=text,
    )


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, ...); [] when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of one live process (Linux /proc; 0 when it is gone)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def _with_descendants(root: int) -> list[int]:
    """The process and everything it started that still runs (PostgreSQL's backends, say)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids


class CpuMeter:
    """CPU time per named process (with children) over a measured stretch: where the cores went.

    `CpuMeter({"nats": pid, ...})`, `start()`, then `per_item(n)` -> microseconds of CPU per item by name;
    "agent" is this process (the emitting side) and is always included.
    """

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        now = {"agent": usage.ru_utime + usage.ru_stime}
        for name, pid in self.roots.items():
            now[name] = sum(_cpu_of(p) for p in _with_descendants(pid))
        return now

    def start(self) -> CpuMeter:
        self._start = self._now()
        return self

    def per_item(self, n: int) -> dict[str, float]:
        end = self._now()
        return {name: round((end[name] - self._start[name]) / n * 1e6, 1) for name in end}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


__all__ = [
    "CpuMeter",
    "Servers",
    "count_turns",
    "end_burst_checkpoint",
    "history_process",
    "log_slow_work",
    "machine",
    "percentile",
    "publish_events",
    "servers",
    "statistics",
    "table",
    "turn",
    "until_stored",
    "wal_segments_created",
]
