"""A lean pull subscription for a durable JetStream consumer: one inbox, a callback, a buffer.

nats-py's `fetch` awaits each message through `asyncio.wait_for`, which costs tens of microseconds per
message on a small machine. Here the server streams a pull request's messages into an inbox whose callback
only appends to a buffer; `fetch` returns what has arrived once the request is answered or quiet for a
moment. One request is open at a time: it stays open across fetches (so messages keep flowing while the
previous batch is handled) until the server has sent its batch or answers with a status (404/408/409).
A request that reaches its expiry is considered over (the server may end a partly served one silently, and a lost
connection ends it too) and a new one is sent; a late message of the old one still lands in the buffer.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

QUIET = 0.002  # once messages flow, a gap this long ends the batch
GATHER = 0.010  # and a batch never waits longer than this for more (latency under a steady trickle)


class PullSubscription:
    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._buffer: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._owed = 0  # messages the open request may still deliver
        self._open_until = 0.0  # monotonic deadline of the open request (0: none open)

    async def start(self) -> PullSubscription:
        self._sub = await self._nc.subscribe(self._inbox, cb=self._on_msg)
        return self

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers and not msg.data else None
        if status is not None:
            if status != "100":  # 100 is a heartbeat; 404/408/409 close the request
                self._open_until = 0.0
        else:
            self._buffer.append(msg)
            self._owed -= 1
            if self._owed <= 0:
                self._open_until = 0.0
        self._arrived.set()

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages; raises TimeoutError when none arrive within `timeout`."""
        now = time.monotonic()
        if not self._buffer and (self._open_until == 0.0 or now > self._open_until):
            request = {"batch": batch, "expires": int(timeout * 1e9)}
            self._owed = batch
            # The server may end a partly served request at its expiry without a status: from then on,
            # treat it as closed and ask again (a late message of the old request still lands in the buffer).
            self._open_until = now + timeout
            await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        deadline = now + timeout
        first_at = now if self._buffer else 0.0
        while len(self._buffer) < batch:
            self._arrived.clear()
            current = time.monotonic()
            if self._buffer:
                first_at = first_at or current
                wait = min(QUIET, first_at + GATHER - current)
            else:
                wait = deadline - current
            if wait <= 0:
                break
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=wait)
            except TimeoutError:
                break
            if self._open_until == 0.0 and self._buffer:
                break  # the request is over: nothing more is coming for it
        if not self._buffer:
            raise TimeoutError
        n = min(batch, len(self._buffer))
        return [self._buffer.popleft() for _ in range(n)]
