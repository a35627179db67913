"""How fast the console's pages render with a million turns stored, in Chromium, against the real platform.

The embedded stack (history, rooms, recordings, the console) gets 5,000 calls of 200 turns each loaded straight
into history's tables. Then, signed in, a browser opens `/calls` and a call's page again and again; each time
counts from the navigation until the page shows its data (the call rows; the call's 200 turns) and has painted.

    python -m bench.console_bench [--calls 5000] [--turns-per-call 200] [--runs 40]

Adds `console_calls_p95_ms` and `console_call_p95_ms` (and their p50) to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from playwright.sync_api import Page, sync_playwright

import parley_contracts as c
from bench.common import TURN_TEXT, machine, percentile, table
from parley_devstack.stack import Stack

RESULTS = Path(__file__).parent / "results.json"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"]


async def load(db: str, calls: int, per_call: int) -> None:
    """`calls` conversations of one ended session each, `per_call` turns each, by COPY."""
    conn = await asyncpg.connect(db)
    ids = [f"bench-call-{i:06d}" for i in range(calls)]
    starts = [T0 + timedelta(minutes=i) for i in range(calls)]
    length = timedelta(seconds=per_call)
    await conn.copy_records_to_table(
        "conversations",
        schema_name="history",
        columns=["id", "user_id", "started_at", "last_activity_at"],
        records=[
            (cid, f"user-{i % 500}", at, at + length) for i, (cid, at) in enumerate(zip(ids, starts, strict=True))
        ],
    )
    session_columns = ["id", "conversation_id", "started_at", "ended_at", "end_reason", "duration_seconds"]
    await conn.copy_records_to_table(
        "sessions",
        schema_name="history",
        columns=session_columns,
        records=[
            (f"{cid}-s", cid, at, at + length, "participant_disconnected", float(per_call))
            for cid, at in zip(ids, starts, strict=True)
        ],
    )
    columns = ["event_id", "conversation_id", "session_id", "seq", "role", "text", "interrupted", "occurred_at"]
    metrics = json.dumps({"llm_ttft": 0.21, "tts_ttfb": 0.18, "e2e_latency": 1.1})
    for start in range(0, calls, 250):
        batch = [
            (c.new_event_id(), cid, f"{cid}-s", seq, "user" if seq % 2 else "assistant", TURN_TEXT, False,
             at + timedelta(seconds=seq), metrics)
            for cid, at in zip(ids[start : start + 250], starts[start : start + 250], strict=True)
            for seq in range(1, per_call + 1)
        ]  # fmt: skip
        await conn.copy_records_to_table("turns", schema_name="history", columns=[*columns, "metrics"], records=batch)
    await conn.execute("ANALYZE history.conversations; ANALYZE history.sessions; ANALYZE history.turns")
    await conn.close()


def timed(page: Page, url: str, ready: Callable[[Page], None], mark: str, runs: int) -> list[float]:
    """Milliseconds from the start of the navigation to `url` until the page showed its data: the page marks the
    moment (`parley:<page>-shown`, after the frame holding the data), on its own clock."""
    found = []
    for _ in range(runs):
        page.goto("about:blank")
        page.goto(url)
        ready(page)
        shown = f"() => performance.getEntriesByName('parley:{mark}-shown')[0]?.startTime"
        deadline = time.monotonic() + 10
        while (at := page.evaluate(shown)) is None:
            assert time.monotonic() < deadline, f"{url} never marked its data shown"
            page.wait_for_timeout(20)
        found.append(float(at))
    return found


def measure(env: dict[str, str], call_id: str, per_call: int, runs: int) -> dict[str, object]:
    base = env["PARLEY_CONSOLE_URL"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{base}/signin")
        page.get_by_label("API key").fill(env["PARLEY_API_KEY"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/calls")
        calls = timed(page, f"{base}/calls", lambda pg: pg.get_by_test_id("call-row").first.wait_for(), "calls", runs)
        rows = f"[data-testid=turn-row]:nth-child({per_call})"
        call = timed(page, f"{base}/calls/{call_id}", lambda pg: pg.locator(rows).wait_for(), "call", runs)
        browser.close()
    return {
        "console_calls_p50_ms": round(percentile(calls, 50)), "console_calls_p95_ms": round(percentile(calls, 95)),
        "console_call_p50_ms": round(percentile(call, 50)), "console_call_p95_ms": round(percentile(call, 95)),
    }  # fmt: skip


def main(calls: int, per_call: int, runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="parley-console-bench-") as tmp:
        stack = Stack(Path(tmp), simulated_calls=0, settings={"AGENT_PROVIDERS": "offline"})
        try:
            env = stack.start()
            history = httpx.Client(base_url=env["PARLEY_HISTORY_URL"])
            deadline = time.monotonic() + 60
            while history.get("/ready").status_code != 200:  # its migrations made the tables
                assert time.monotonic() < deadline, "history did not become ready"
                time.sleep(0.2)
            print(f"loading {calls:,} calls of {per_call} turns ({calls * per_call:,} turns)...", flush=True)
            loaded = time.perf_counter()
            asyncio.run(load(env["PARLEY_DATABASE_URL"], calls, per_call))
            print(f"  loaded in {time.perf_counter() - loaded:.0f} s; measuring {runs} page loads each...", flush=True)
            results = measure(env, f"bench-call-{calls // 2:06d}", per_call, runs)
        finally:
            stack.stop()
    results |= {"console_turns_stored": calls * per_call, "console_machine": machine()}
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--turns-per-call", type=int, default=200)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    found = main(args.calls, args.turns_per_call, args.runs)
    merged = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps(merged | found, indent=2) + "\n")
    print(f"\nconsole benchmark (added to {args.out})")
    print(table([(k, str(v)) for k, v in found.items()]))
    print("\nTargets: console_calls_p95_ms <= 300, console_call_p95_ms <= 300")
