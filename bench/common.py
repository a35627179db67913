"""Shared benchmark plumbing: embedded servers in a temp dir, event factories, percentiles."""

from __future__ import annotations

import platform
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import parley_contracts as c
from parley_devstack.nats_server import NatsServer
from parley_devstack.postgres_server import PostgresServer

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@dataclass
class Servers:
    nats: NatsServer
    postgres: PostgresServer
    tmp: Path


@contextmanager
def servers() -> Iterator[Servers]:
    """A real NATS and a real PostgreSQL (durable settings, as in production) for one benchmark run."""
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        root = Path(tmp)
        nats = NatsServer(root / "nats", log_path=root / "nats.log").start()
        pg = PostgresServer(root / "pg", log_path=root / "pg.log").start()
        pg.create_database("parley")
        try:
            yield Servers(nats, pg, root)
        finally:
            pg.stop()
            nats.stop()


async def prepare(s: Servers) -> str:
    """Migrate the history schema and provision JetStream; returns the database URL."""
    import nats

    from parley_history.db import migrate_async
    from parley_runtime.provision import provision

    db = s.postgres.url("parley")
    await migrate_async(db)
    nc = await nats.connect(s.nats.url)
    await provision(nc.jetstream())
    await nc.close()
    return db


def turn(conversation: int, seq: int, text: str = "I would like to move my appointment to Friday") -> c.TurnCompleted:
    return c.TurnCompleted(
        event_id=uuid4(),
        occurred_at=T0 + timedelta(milliseconds=seq),
        conversation_id=f"conv-{conversation:05d}",
        session_id=f"sess-{conversation:05d}",
        producer="bench",
        seq=seq,
        role="user" if seq % 2 else "assistant",
        text=text,
    )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> str:
    import os

    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


__all__ = ["Servers", "machine", "percentile", "servers", "statistics", "table", "turn"]
