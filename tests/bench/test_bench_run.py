"""`make bench` keeps working: a small run produces every key of bench/results.json with sane values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from parley_devstack.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "ceiling_turns_per_s",
    "parley_turns_per_s",
    "sync_turns_per_s",
    "e2e_p50_ms",
    "e2e_p99_ms",
    "e2e_wal_segments_created",
    "sync_p50_ms",
    "sync_p99_ms",
    "emit_p50_us",
    "emit_p99_us",
    "emit_down_p99_us",
    "recent_p50_ms",
    "recent_p99_ms",
    "search_rare_p99_ms",
    "search_scoped_p99_ms",
    "search_broad_p50_ms",
    "machine",
}


@pytest.mark.slow
def test_small_bench_run_writes_every_result_key_and_keeps_logs_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--turns",
            "3000",
            "--recent-rows",
            "20000",
            "--runs",
            "1",
            "--latency-seconds",
            "3",
            "--out",
            out,
            "--logs",
            tmp_path / "logs",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(out.read_text())
    assert results.keys() >= KEYS
    assert all(not isinstance(v, dict | list) for v in results.values()), "keys must stay flat"
    assert results["parley_turns_per_s"] > 0
    assert results["e2e_p50_ms"] <= results["e2e_p99_ms"]
    assert results["cpu_us_per_turn_postgres"] > 0  # the CPU meter found the server processes
    assert "parley_turns_per_s" in run.stdout  # the table is printed
    assert "emit() p99 with NATS down <= 10 us" in run.stdout  # and the targets with their verdicts
    assert f"40x the baseline leaves {results['cpu_budget_us_per_turn_at_40x']} us of CPU per turn" in run.stdout
    assert {p.name for p in (tmp_path / "logs").iterdir()} >= {"pg.log", "nats.log", "history.log"}
    assert 'parameter "log_min_duration_statement" changed to "20"' in (tmp_path / "logs" / "pg.log").read_text()


def test_cpu_budget_at_40x_is_the_cores_time_over_forty_times_the_baseline() -> None:
    from bench.run import cpu_budget

    results = {"sync_turns_per_s": 800, "cpu_us_per_turn_agent": 18.0, "cpu_us_per_turn_nats": 25.0}
    results |= {"cpu_us_per_turn_history": 31.5, "cpu_us_per_turn_postgres": 28.0}
    assert cpu_budget(results, cores=2) == {"cpu_us_per_turn_total": 102.5, "cpu_budget_us_per_turn_at_40x": 62.5}


def test_verdicts_say_which_targets_are_not_met() -> None:
    from bench.run import verdicts

    results = {"parley_vs_sync": 24.8, "parley_vs_ceiling": 0.98, "e2e_p99_ms": 51.0, "emit_p99_us": 1.3}
    results["emit_down_p99_us"] = 1.4
    got = dict(verdicts(results))
    assert got["Parley vs the synchronous baseline >= 40x"] == "24.8: NOT MET"
    assert got["Parley vs the bare ceiling >= 60%"] == "0.98: met"
    assert got["emit-to-row p99 at 1,000 turns/s <= 50 ms"] == "51: NOT MET"
    assert got["emit() p99 with NATS up <= 10 us"] == "1.3: met"


async def _write_wal(conn: Any, megabytes: int) -> None:
    await conn.execute(
        "INSERT INTO filler SELECT decode(md5(g::text) || repeat('ab', 480), 'hex')"
        f" FROM generate_series(1, {megabytes * 1000}) g"
    )
    await conn.execute("SELECT pg_stat_force_next_flush()")  # this backend's I/O counts, visible to others now


@pytest.mark.parametrize("checkpoint", [True, False], ids=["after-checkpoint", "fresh-cluster"])
async def test_latency_phase_reuses_wal_segments_after_the_burst_checkpoint(
    own_postgres: PostgresServer, checkpoint: bool
) -> None:
    # The bench measures emit-to-row latency after a write burst: on a fresh cluster every new WAL segment
    # is zero-filled while commits wait, unless the burst's checkpoint has ended and left segments to reuse.
    from bench.common import end_burst_checkpoint, wal_segments_created

    db = own_postgres.url("parley")
    conn = await asyncpg.connect(db)
    try:
        await conn.execute("CREATE TABLE filler (b bytea)")
        await _write_wal(conn, 64)  # the burst
        if checkpoint:
            await end_burst_checkpoint(db)
        before = await wal_segments_created(db)
        await _write_wal(conn, 48)  # the measured phase: three segments' worth
        created = await wal_segments_created(db) - before
    finally:
        await conn.close()
    assert (created == 0) if checkpoint else (created >= 2)
