"""Keeps a slow batch's messages from being redelivered while the consumer still works on them.

JetStream redelivers a message that is not acked within the durable's `ack_wait` (30 s), even while the
consumer holding it is still busy with it: a recording moved to a slow blob store, a batch waiting for a
slot behind a slow one. The redelivery would then be handled a second time, concurrently, and every
redelivery counts against `max_deliver`, so a long outage could dead-letter good events.

So the consume loop registers each fetched batch here until its outcome is sent. A batch held longer than a
third of `ack_wait` gets `+WPI` (work in progress: the server restarts its ack timer) for each message not
yet acked, every third of `ack_wait`. Up to `max_hold` seconds: a handler stuck longer than that (a bug,
since every dependency has a timeout) stops getting them, and its messages go to another replica.
Batches handled in time, the usual case, cost a dict entry and no message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from parley_runtime.periodic import every

logger = logging.getLogger(__name__)

WORK_IN_PROGRESS = b"+WPI"


class HeldBatches:
    """The fetched batches a consumer has not settled yet, kept alive on the server while they last."""

    def __init__(self, nc: Client, *, ack_wait: float, max_hold: float, durable: str) -> None:
        self.nc = nc
        self.interval = max(0.05, ack_wait / 3)
        self.max_hold = max_hold
        self.durable = durable
        self._held: dict[int, tuple[float, Sequence[Msg]]] = {}
        self._abandoned: set[int] = set()
        self._last = 0

    def hold(self, msgs: Sequence[Msg]) -> int:
        self._last += 1
        self._held[self._last] = (time.monotonic(), msgs)
        return self._last

    def release(self, token: int) -> None:
        self._held.pop(token, None)
        self._abandoned.discard(token)

    async def run(self, done: asyncio.Event) -> None:
        """Send the progress acks until `done` (the consume loop sets it once its last batch is settled)."""
        await every(self.interval, done, self.beat, what="in-progress acks")

    async def beat(self) -> None:
        now = time.monotonic()
        for token, (since, msgs) in list(self._held.items()):
            held = now - since
            if held < self.interval:
                continue
            if held > self.max_hold:
                if token not in self._abandoned:
                    self._abandoned.add(token)
                    logger.warning(
                        "batch held too long; letting it be redelivered",
                        extra={"durable": self.durable, "count": len(msgs), "held_seconds": round(held)},
                    )
                continue
            for msg in msgs:
                if msg.reply and not msg.is_acked:
                    try:
                        await self.nc.publish(msg.reply, WORK_IN_PROGRESS)
                    except nats.errors.Error:
                        return  # disconnected: the server redelivers anyway, the handler's ack decides
