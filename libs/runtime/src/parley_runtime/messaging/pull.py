"""A lean pull subscription for a durable JetStream consumer: one inbox, a callback, a buffer.

nats-py's `fetch` awaits each message through `asyncio.wait_for`, which costs tens of microseconds per
message on a small machine. Here the server streams a pull request's messages into an inbox whose callback
only appends to a buffer; `fetch` returns what has arrived once the request is answered or quiet for a
moment. A request stays open across fetches (so messages keep flowing while the previous batch is handled)
until the server has sent its batch, answers with a status (404/408/409), or reaches its expiry (the
server may drop a request without a word, on a lost connection say). Whenever the buffer is empty and no
request is open, `fetch` sends a new one at once, also in the middle of its wait: a request that ends
while a fetch waits must not leave the consumer deaf until that fetch times out (it did: a 408 landing
during a fetch's wait stalled history for up to a second, seen as 1 s emit-to-row outliers).

Each request has its own reply subject (`<inbox>.<n>`), so a status can be matched to its request: the late
408 of an old request (the client counts expiry from when it sent, the server from when it received)
must not close the newer one.

`wait_for_durable` is how a service binds: it waits, saying so, until `parley provision` made the durable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo
from nats.js.errors import NotFoundError

from parley_runtime.periodic import sleep_unless

logger = logging.getLogger(__name__)

QUIET = 0.002  # once messages flow, a gap this long ends the batch
GATHER = 0.010  # and a batch never waits longer than this for more (latency under a steady trickle)
REFUSED_PAUSE = 0.25  # after a refusal (409, or 503 once the durable is gone): not a request per loop


class PullSubscription:
    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._buffer: deque[Msg] = deque()
        self._arrived = asyncio.Event()
        self._requests = 0  # number of the latest request: its reply subject is <inbox>.<n>
        self._current = ""  # reply subject of the request we count on
        self._owed = 0  # messages the open request may still deliver
        self._open_until = 0.0  # monotonic expiry of the open request (0: none open)
        self._retry_at = 0.0  # no new request before this (monotonic), set when the server refuses one

    async def start(self) -> PullSubscription:
        self._sub = await self._nc.subscribe(f"{self._inbox}.*", cb=self._on_msg)
        return self

    async def unsubscribe(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers and not msg.data else None
        if status is not None:
            # 100 is a heartbeat; 404/408/409 end the request they answer (only the current one matters).
            if status != "100" and msg.subject == self._current:
                self._open_until = 0.0
                if status != "408":  # 408: it expired, ask again at once; anything else: pause first
                    self._retry_at = time.monotonic() + REFUSED_PAUSE
        else:
            self._buffer.append(msg)  # a message of any of our requests, old or current
            self._owed -= 1
            if self._owed <= 0:
                self._open_until = 0.0
        self._arrived.set()

    async def _request(self, batch: int, expires: float, now: float) -> None:
        self._requests += 1
        self._current = f"{self._inbox}.{self._requests}"
        self._owed = batch
        self._open_until = now + expires
        request = {"batch": batch, "expires": int(expires * 1e9)}
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._current)

    async def fetch(self, batch: int, timeout: float) -> list[Msg]:
        """Up to `batch` messages; raises TimeoutError when none arrive within `timeout`."""
        now = time.monotonic()
        deadline = now + timeout
        first_at = now if self._buffer else 0.0
        while len(self._buffer) < batch:
            self._arrived.clear()
            current = time.monotonic()
            if self._buffer:
                if self._open_until == 0.0:
                    break  # the request is over: nothing more is coming for it
                first_at = first_at or current
                wait = min(QUIET, first_at + GATHER - current)
                if wait <= 0:
                    break
            else:
                if current >= deadline:
                    break
                if current >= self._open_until and current >= self._retry_at:
                    await self._request(batch, timeout, current)  # none open (or it expired): ask, even mid-wait
                # Wake at the request's expiry too (the server may have dropped it silently), or at the end
                # of a pause after a refusal, to ask again.
                wake = self._open_until if self._open_until > current else self._retry_at
                wait = min(deadline, wake) - current
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=wait)
            except TimeoutError:
                if self._buffer:
                    break  # quiet for a moment: hand over what we have
        if not self._buffer:
            raise TimeoutError
        n = min(batch, len(self._buffer))
        return [self._buffer.popleft() for _ in range(n)]


def delivery_info(reply: str) -> tuple[int, int]:
    """(num_delivered, stream_seq) from a JetStream ack subject, without nats-py's heavier metadata parse.

    v1: `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>` (9 tokens);
    v2 adds a domain and an account hash after `ACK` and may end with a random token (11+ tokens).
    """
    tokens = reply.split(".")
    if len(tokens) < 9 or tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream ack subject: {reply!r}")
    first = 4 if len(tokens) == 9 else 6
    return int(tokens[first]), int(tokens[first + 1])


async def wait_for_durable(js: JetStreamContext, stream: str, durable: str, stop: asyncio.Event) -> ConsumerInfo | None:
    """Services only bind: until `parley provision` has created the durable, wait and say so (None: stopped)."""
    warned = False
    while not stop.is_set():
        try:
            info: ConsumerInfo = await js.consumer_info(stream, durable)
            return info
        except NotFoundError:
            if not warned:
                logger.warning("durable not provisioned yet; run `parley provision`", extra={"durable": durable})
                warned = True
        except (nats.errors.Error, OSError, TimeoutError):
            pass
        await sleep_unless(stop, 1.0)
    return None
