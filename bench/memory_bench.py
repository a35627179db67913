"""History's memory over a long stream of new conversations: it must level off, not grow with the stream.

The history service remembers the conversations and sessions it wrote (`KnownRows`), so a turn of a
conversation it knows skips the upserts. That memory is bounded (`HISTORY_KNOWN_ROWS_MAX` of each); this
benchmark shows the bound holds in the real process and what it costs. It runs the history service as in
production, sends it one turn of each of `--conversations` new conversations (ids as the agent makes them:
a UUID per conversation, a LiveKit job id per session) in stages, waits until each stage is stored, and reads
the process's resident memory after each. Once the cache is full, further stages must add next to nothing.

    python -m bench.memory_bench [--conversations 300000] [--stage 50000] [--known-rows-max 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg

import parley_contracts as c
from bench.common import (
    T0,
    TURN_TEXT,
    history_process,
    machine,
    prepare,
    publish_events,
    servers,
    table,
    until_stored,
)
from parley_history.known import DEFAULT_MAX_ENTRIES


def rss_mb(pid: int) -> float:
    """Resident memory of a live process (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def first_turn(at: int) -> c.TurnCompleted:
    """The first turn of a new conversation, with ids of the length the agent uses."""
    return c.TurnCompleted(
        event_id=c.new_event_id(),
        occurred_at=T0 + timedelta(milliseconds=at),
        conversation_id=str(uuid.uuid4()),
        session_id=f"AJ_{secrets.token_urlsafe(9)}",
        producer="bench",
        seq=1,
        role="user",
        text=TURN_TEXT,
    )


async def main(conversations: int, stage: int, known_rows_max: int) -> dict[str, object]:
    results: dict[str, object] = {"known_rows_max": known_rows_max}
    readings: list[tuple[int, float]] = []  # (conversations stored, history's RSS in MiB)
    with servers() as s:
        db = await prepare(s)
        extra = {"HISTORY_KNOWN_ROWS_MAX": str(known_rows_max)}
        history = await history_process(db, s.nats.url, s.tmp / "history.log", extra)
        conn = await asyncpg.connect(db)
        try:
            ready = results["rss_ready_mb"] = round(rss_mb(history.pid), 1)
            sent = 0
            while sent < conversations:
                n = min(stage, conversations - sent)
                await publish_events(s.nats.url, [first_turn(i) for i in range(sent, sent + n)])
                sent += n
                await until_stored(s.nats.url, conn, sent)
                readings.append((sent, round(rss_mb(history.pid), 1)))
                print(f"  {sent:>9,} conversations stored: history RSS {readings[-1][1]} MiB", flush=True)
        finally:
            await conn.close()
            history.terminate()
            history.wait(20)
    results.update({f"rss_after_{stored}_mb": rss for stored, rss in readings})
    results["rss_growth_mb"] = round(readings[-1][1] - ready, 1)
    full = [rss for stored, rss in readings if stored > known_rows_max]
    if len(full) >= 2:  # growth once the cache was full: what an unbounded memory would keep adding
        results["rss_growth_once_full_mb"] = round(full[-1] - full[0], 1)
    results["machine"] = machine()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=300_000)
    parser.add_argument("--stage", type=int, default=50_000, help="conversations sent between two readings")
    parser.add_argument("--known-rows-max", type=int, default=DEFAULT_MAX_ENTRIES)
    args = parser.parse_args()
    print(f"history memory over {args.conversations:,} new conversations...", flush=True)
    res = asyncio.run(main(args.conversations, args.stage, args.known_rows_max))
    print("history memory benchmark")
    print(table([(k, str(v)) for k, v in res.items()]))
