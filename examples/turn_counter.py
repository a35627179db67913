"""An example subscriber to Parley's events: every turn's size per conversation, in SQLite.

What any subscriber of yours must do, in a hundred lines (README, "Subscribing to the events"):
- read through a durable consumer of its own on stream VOICE, named as its NATS user
  (deploy/helm/nats-subscriber-example.yaml), with explicit acks;
- ack only after its own commit, since delivery is at least once, and store each event once
  (`event_id`, and a turn's (`session_id`, `seq`));
- terminate what it cannot decode rather than ack it unread (Parley's DLQ copier keeps it; the reason is logged);
- on `conversation_erased.v1`, delete what it holds of that conversation and drop its later events;
- keep and log no text of what was said unless it must (this one keeps the length only).

Run it with `NATS_URL=nats://analytics:<password>@nats:4222 python examples/turn_counter.py turns.db`;
it needs `nats-py` and `parley-contracts` (`pip install ./libs/contracts`). SIGTERM or Ctrl-C stops it after
the batch in hand. tests/deploy/test_nats_subscriber.py runs it under the example's NATS user.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Sequence

import nats
import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy

import parley_contracts as c

logger = logging.getLogger("turn_counter")

DURABLE = "analytics"  # the name of its NATS user: that user may use this durable and no other
FILTERS = [c.subject_filter(c.TurnCompleted), c.subject_filter(c.ConversationErased)]
SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    event_id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL, session_id TEXT NOT NULL,
    seq INTEGER NOT NULL, role TEXT NOT NULL, chars INTEGER NOT NULL, UNIQUE (session_id, seq));
CREATE TABLE IF NOT EXISTS erased (conversation_id TEXT PRIMARY KEY);
"""


def apply(db: sqlite3.Connection, event: c.AnyEvent) -> None:
    """One event into the database, inside the caller's transaction; applying it again changes nothing."""
    if isinstance(event, c.ConversationErased):
        db.execute("INSERT OR IGNORE INTO erased VALUES (?)", (event.conversation_id,))
        db.execute("DELETE FROM turns WHERE conversation_id = ?", (event.conversation_id,))
    elif isinstance(event, c.TurnCompleted):
        if db.execute("SELECT 1 FROM erased WHERE conversation_id = ?", (event.conversation_id,)).fetchone():
            return  # a late event of an erased conversation (a call still running, a redelivery)
        db.execute(
            "INSERT OR IGNORE INTO turns VALUES (?, ?, ?, ?, ?, ?)",
            (str(event.event_id), event.conversation_id, event.session_id, event.seq, event.role, len(event.text)),
        )


async def handle(db: sqlite3.Connection, batch: Sequence[Msg]) -> None:
    decoded = []
    for msg in batch:
        try:
            decoded.append((msg, c.decode(msg.data)))
        except c.ContractError as exc:
            logger.error("undecodable event terminated: %s (%s)", exc.reason, msg.subject)
            await msg.term()
    try:
        with db:  # one transaction per batch: committed here, or rolled back
            for _, event in decoded:
                apply(db, event)
    except sqlite3.Error:
        logger.exception("batch not stored; it comes again shortly")
        for msg, _ in decoded:
            await msg.nak(delay=5)
        return
    for msg, _ in decoded:
        await msg.ack()


async def run(nats_url: str, db_path: str, stop: asyncio.Event) -> None:
    nc = await nats.connect(nats_url, name=DURABLE)
    js = nc.jetstream()
    # Creating the durable again with the same settings is a no-op, so every start may do it.
    await js.add_consumer(
        "VOICE", durable_name=DURABLE, name=DURABLE, filter_subjects=FILTERS, ack_policy=AckPolicy.EXPLICIT
    )
    sub = await js.pull_subscribe_bind(DURABLE, stream="VOICE")
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA)
    try:
        while not stop.is_set():
            try:
                batch = await sub.fetch(100, timeout=1)
            except nats.errors.TimeoutError:
                continue
            await handle(db, batch)
    finally:
        db.close()
        await nc.flush()  # the acks just sent
        await nc.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    if len(sys.argv) != 2:
        sys.exit("usage: NATS_URL=nats://user:password@host:4222 python examples/turn_counter.py <sqlite file>")

    async def until_signalled() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        await run(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"), sys.argv[1], stop)

    asyncio.run(until_signalled())


if __name__ == "__main__":
    main()
