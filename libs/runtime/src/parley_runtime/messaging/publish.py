"""Pipelined JetStream publishing: a window of messages out, their PubAcks counted back in on one inbox.

nats-py's `publish_async` costs a semaphore, a NUID plus random token, a future with a done callback, a
JSON parse and a PubAck dataclass per message, and waiting on the window is an `asyncio.wait` over all of
those futures. The outbox only needs to know, per message, "stored", "rejected for good" or "try again",
so here each message's reply subject is the inbox plus a generation and its index in the window, the ack
callback records the outcome in a list, and one event wakes the publisher when the last ack of the window
is in. A PubAck is only parsed when it carries an error.

Windows reuse the same reply subjects (`<inbox>.<generation>.<index>`): nats-server caches subject matches,
and a subject never seen before costs it more per message (docs/performance.md). Reuse is safe while every
message of the previous window was answered by the server, which answers each publish once. A window that ends
with a message unanswered (timeout, connection error) starts a new generation, so a late ack of it is ignored
instead of being taken for the next window's: those messages are retried with the same Nats-Msg-Id and the
stream drops the copies.

A window of `FAST_MIN` messages or more goes as one fast-ingest batch instead (`fast_ingest`: one answer for
the window, on nats-server 2.14+ and a stream that allows it), and message by message only when the batch
does not end cleanly. Smaller windows, the usual case at a steady pace, skip it: a batch costs two extra
answers (its start and its end).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from enum import Enum

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import trace

from parley_runtime.messaging.fast_ingest import FastIngest, Message, Result, error_text, status_text
from parley_runtime.observability import tracing

FAST_MIN = 32

logger = logging.getLogger(__name__)


class Outcome(Enum):
    STORED = "stored"  # acked by the stream (including "duplicate": it was stored before)
    REJECTED = "rejected"  # the stream or the client refuses this message for good (bad request, too large)
    RETRY = "retry"  # no answer in time, no stream listening yet, connection trouble: send it again


class WindowPublisher:
    """Publishes windows of messages on one connection; one at a time (the outbox's single task)."""

    def __init__(self, nc: Client, *, fast_ingest: bool = True) -> None:
        self._nc = nc
        self.fast = FastIngest(nc) if fast_ingest else None
        self._prefix = nc.new_inbox()
        self._sub: Subscription | None = None
        self._generation = 0  # incremented after a window with unanswered messages: their late acks are ignored
        # After a batch went unanswered the next window goes message by message: whatever made the batch go
        # unanswered (an outage, or a server that never ends batches), the outbox still makes progress.
        self._batch_timed_out = False
        self._outcomes: list[Outcome] = []
        self._errors: list[str | None] = []
        self._answered: list[bool] = []
        self._missing = 0
        self._complete = asyncio.Event()

    async def start(self) -> WindowPublisher:
        self._sub = await self._nc.subscribe(f"{self._prefix}.*.*", cb=self._on_ack)
        if self.fast is not None:
            await self.fast.start()
        return self

    async def stop(self) -> None:
        if self.fast is not None:
            await self.fast.stop()
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _on_ack(self, msg: Msg) -> None:
        _, generation, index = msg.subject.rsplit(".", 2)
        i = int(index)
        if int(generation) != self._generation or i >= len(self._answered) or self._answered[i]:
            return  # a late ack of an abandoned window, or a repeat
        self._answered[i] = True
        if not msg.data:  # a status: 503 = no stream listens on the subject (not provisioned yet)
            self._errors[i] = status_text(msg)
            self._settle()
            return
        if b'"error"' in msg.data:
            error = json.loads(msg.data).get("error") or {}
            self._errors[i] = error_text(error)
            if error.get("code") == 400:
                self._outcomes[i] = Outcome.REJECTED
            self._settle()
            return
        self._outcomes[i] = Outcome.STORED
        self._settle()

    def _settle(self) -> None:
        self._missing -= 1
        if self._missing == 0:
            self._complete.set()

    async def publish(self, messages: Sequence[Message], timeout: float) -> tuple[list[Outcome], list[str | None]]:
        """Send every message, wait up to `timeout` for their answers; one outcome (and error) per message."""
        n = len(messages)
        timed_out, self._batch_timed_out = self._batch_timed_out, False
        if self.fast is not None and n >= FAST_MIN and not timed_out and self.fast.usable():
            try:
                result = await self.fast.publish(messages, timeout)
            except (nats.errors.Error, OSError) as e:
                logger.info("fast-ingest batch not sent; publishing message by message", extra={"error": repr(e)})
            else:
                if result is Result.STORED:
                    return [Outcome.STORED] * n, [None] * n
                if result is Result.TIMEOUT:
                    self._batch_timed_out = True
                    return [Outcome.RETRY] * n, [f"no answer to the batch within {timeout} s"] * n
                logger.info(
                    "fast-ingest batch not complete; publishing message by message", extra={"reason": self.fast.reason}
                )
        return await self._publish_each(messages, timeout)

    async def publish_traced(
        self, messages: Sequence[Message], timeout: float
    ) -> tuple[list[Outcome], list[str | None]]:
        """`publish`, each message that carries a `traceparent` in a PRODUCER span: a child of the span that
        emitted the event (its traceparent is kept across retries), whose context the message carries on."""
        spans: list[trace.Span] = []
        traced: list[Message] = []
        for subject, data, headers in messages:
            if "traceparent" in headers:
                span, headers = tracing.producer_span(subject, headers)
                spans.append(span)
            traced.append((subject, data, headers))
        try:
            return await self.publish(traced, timeout)
        finally:
            for span in spans:
                span.end()

    async def _publish_each(
        self, messages: Sequence[Message], timeout: float
    ) -> tuple[list[Outcome], list[str | None]]:
        if self._sub is None:
            await self.start()
        self._outcomes = [Outcome.RETRY] * len(messages)
        self._errors = [None] * len(messages)
        self._answered = [False] * len(messages)
        self._missing = len(messages)
        self._complete.clear()
        reply = f"{self._prefix}.{self._generation}."
        unanswerable = False  # a message may have left without the server's answer reaching us
        for i, (subject, data, headers) in enumerate(messages):
            try:
                await self._nc.publish(subject, data, reply=f"{reply}{i}", headers=headers)
            except (nats.errors.MaxPayloadError, nats.errors.BadSubjectError) as e:
                self._outcomes[i], self._errors[i], self._answered[i] = Outcome.REJECTED, repr(e), True
                self._settle()
            except (nats.errors.Error, OSError) as e:
                self._errors[i], self._answered[i] = repr(e), True
                unanswerable = True
                self._settle()
        if self._missing > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._complete.wait(), timeout)
        if unanswerable or self._missing > 0:
            self._generation += 1
        return list(self._outcomes), list(self._errors)
