"""The consume loop every service uses: fetch a batch, hand it to a handler, ack after it commits.

Outcome -> ack policy (DESIGN.md):
* decoded and handled -> ack, after the handler returned (it commits the whole batch in one transaction);
* a type the service does not handle (`handles`, when the durable's filter is wider on purpose) -> ack
  unread: not decoded, so never dead-lettered by a service that does not own it. An `on_skipped` hook
  sees their subjects first; if it fails they are redelivered later (acked once out of deliveries);
* undecodable, invalid, or rejected by the handler with `PoisonError` (or a failure `poison_reason` names,
  such as a text Postgres cannot store) -> `term` with a reason; the DLQ copier then puts the message on
  `dlq.<subject>`;
* any other failure -> `nak` with a delay that grows with the delivery count. A failure the classifier
  calls transient (DB down, timeouts) also pauses fetching with the same growing delay, so an outage does
  not burn through `max_deliver`. The last allowed delivery is terminated with the error as the reason
  instead of silently expiring.
A batch that fails for a non-transient reason is retried one message at a time, so one bad event cannot
hold back the good ones fetched with it. A batch still in hand after a third of `ack_wait` keeps its
messages with progress acks (`progress.HeldBatches`) instead of having them redelivered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace

from parley_contracts import AnyEvent, ContractError, decode
from parley_contracts.streams import DLQ_STREAM_NAME, VOICE_STREAM_NAME
from parley_runtime.db import is_transient as db_is_transient
from parley_runtime.db import poison_reason as db_poison_reason
from parley_runtime.messaging.handling import (
    BatchHandler,
    Delivery,
    RetryPolicy,
    default_is_transient,
    default_poison_reason,
)
from parley_runtime.messaging.progress import HeldBatches
from parley_runtime.messaging.pull import PullSubscription, delivery_info, wait_for_durable
from parley_runtime.observability import metrics, tracing
from parley_runtime.periodic import sleep_unless

logger = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    batches: int = 0
    acked: int = 0
    naked: int = 0
    terminated: int = 0
    transient_failures: int = 0
    max_num_delivered: int = 0
    skipped: int = 0  # types the durable's filter let through but the service does not handle


@dataclass(eq=False)  # identity semantics: consumers are registered in weak sets for the gauges
class Consumer:
    """A durable pull consumer bound to an existing stream/durable (created by `parley provision`)."""

    nc: Client
    js: JetStreamContext
    stream: str
    durable: str
    handler: BatchHandler
    batch_size: int = 200
    concurrency: int = 1
    fetch_timeout: float = 1.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    is_transient: Callable[[BaseException], bool] = default_is_transient
    # Why a failure means the event can never be processed (then it is dead-lettered at once), or None.
    poison_reason: Callable[[BaseException], str | None] = default_poison_reason
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    lag: dict[str, int] = field(default_factory=dict)  # pending / ack_pending / dlq_messages, for gauges
    lag_refresh_seconds: float = 5.0
    # Subject filters of the types the handler takes (`ConsumerSpec.handles`, each `<prefix>.*`); messages
    # on other subjects are acked without being decoded.
    handles: Sequence[str] = ()
    # Called with the subjects of the messages passed over (not in `handles`) before they are acked.
    on_skipped: Callable[[Sequence[str]], Awaitable[None]] | None = None
    # Pass over every message: a consumer that needs only the subjects (payloads are never decoded).
    subjects_only: bool = False
    # A batch in hand longer than this stops getting progress acks and is redelivered (see progress.py).
    max_hold_seconds: float = 600.0
    _max_deliver: int = 0
    _consecutive_transient: int = 0
    _lag_at: float = 0.0

    def __post_init__(self) -> None:
        if any(not f.endswith(".*") for f in self.handles):
            raise ValueError(f"handles must be subject filters ending in '.*': {list(self.handles)}")
        self._prefixes = tuple(f.removesuffix("*") for f in self.handles)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the batch in hand is finished first."""
        info = await wait_for_durable(self.js, self.stream, self.durable, stop)
        if info is None:
            return
        self._max_deliver = info.config.max_deliver or 0
        metrics.watch_consumer(self)
        sub = await PullSubscription(self.nc, self.stream, self.durable).start()
        held = HeldBatches(
            self.nc, ack_wait=info.config.ack_wait or 30.0, max_hold=self.max_hold_seconds, durable=self.durable
        )
        settled = asyncio.Event()
        beats = asyncio.create_task(held.run(settled))
        logger.info("consumer started", extra={"stream": self.stream, "durable": self.durable})
        # Up to `concurrency` batches are handled while the next one is fetched, so the database works
        # while we read from NATS. Handlers must tolerate concurrent batches (history's do: inserts only,
        # rows locked in key order).
        in_hand: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                await self._refresh_lag()
                try:
                    msgs = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                except TimeoutError:
                    continue
                except nats.errors.ConnectionClosedError:
                    # Closed for good (the client reconnects forever otherwise): nothing more will arrive.
                    logger.warning("nats connection closed; consumer stops", extra={"durable": self.durable})
                    break
                except (nats.errors.Error, OSError) as exc:
                    logger.warning("fetch failed", extra={"durable": self.durable, "error": repr(exc)})
                    await sleep_unless(stop, 1.0)
                    continue
                token = held.hold(msgs)
                while len(in_hand) >= self.concurrency:
                    _, in_hand = await asyncio.wait(in_hand, return_when=asyncio.FIRST_COMPLETED)
                if self._consecutive_transient:
                    # A dependency is down: wait before handling more, so deliveries are not burned.
                    if in_hand:
                        await asyncio.wait(in_hand)
                    in_hand = set()
                    await sleep_unless(stop, self.retry.pause(self._consecutive_transient))
                in_hand.add(asyncio.create_task(self._process_held(msgs, held, token)))
        finally:
            if in_hand:
                await asyncio.wait(in_hand)
            settled.set()
            await beats
            with contextlib.suppress(nats.errors.ConnectionClosedError):
                await sub.unsubscribe()

    async def _refresh_lag(self) -> None:
        """Consumer lag and DLQ size for the gauges, read at most every few seconds (not per batch)."""
        now = time.monotonic()
        if now - self._lag_at < self.lag_refresh_seconds:
            return
        self._lag_at = now
        try:
            info = await self.js.consumer_info(self.stream, self.durable, timeout=2)
            self.lag["pending"] = int(info.num_pending or 0)
            self.lag["ack_pending"] = int(info.num_ack_pending or 0)
            dlq = await self.js.stream_info(DLQ_STREAM_NAME)
            self.lag["dlq_messages"] = int(dlq.state.messages)
        except (nats.errors.Error, OSError, TimeoutError):
            pass

    async def _process_held(self, msgs: Sequence[Msg], held: HeldBatches, token: int) -> None:
        try:
            await self.process(msgs)
        finally:
            held.release(token)

    async def process(self, msgs: Sequence[Msg]) -> None:
        """Apply the outcome -> ack policy to one fetched batch."""
        self.stats.batches += 1
        batch: list[tuple[Msg, Delivery]] = []
        skipped: list[Msg] = []
        for msg in msgs:
            if self.subjects_only or (self._prefixes and not msg.subject.startswith(self._prefixes)):
                skipped.append(msg)  # not ours (the filter is wide on purpose: cheaper for the server)
                continue
            try:
                event = decode(msg.data)
            except ContractError as exc:
                await self._terminate(msg, f"undecodable: {exc.reason}")
                continue
            num_delivered, stream_seq = delivery_info(msg.reply)
            self.stats.max_num_delivered = max(self.stats.max_num_delivered, num_delivered)
            batch.append(
                (
                    msg,
                    Delivery(
                        event=event,
                        subject=msg.subject,
                        stream_seq=stream_seq,
                        num_delivered=num_delivered,
                        trace_context=tracing.extract(msg.headers),
                    ),
                )
            )
        if skipped:
            await self._pass_over(skipped)
        if not batch:
            return
        try:
            await self._handle(batch)
        except Exception as exc:
            if len(batch) > 1 and not self.is_transient(exc):
                logger.warning("batch failed, retrying one by one", extra={"durable": self.durable})
                for item in batch:
                    await self._process_one(item)
                return
            await self._fail(batch, exc)
            return
        await self._ack(batch)

    async def _pass_over(self, msgs: list[Msg]) -> None:
        """Ack messages of types the service does not handle, once `on_skipped` (if any) has seen them."""
        if self.on_skipped is not None:
            try:
                await self.on_skipped([m.subject for m in msgs])
            except Exception as exc:
                logger.warning("on_skipped failed", extra={"durable": self.durable, "error": repr(exc)[:500]})
                for msg in msgs:
                    num_delivered, _ = delivery_info(msg.reply)
                    if self._max_deliver > 0 and num_delivered >= self._max_deliver:
                        await msg.ack()  # not this service's to dead-letter: stop trying
                    else:
                        await msg.nak(delay=self.retry.delay(num_delivered))
                return
        for msg in msgs:
            await msg.ack()
        self.stats.skipped += len(msgs)
        # Counted as processed too, or a consumer that only passes messages over would look stalled.
        metrics.EVENTS_PROCESSED.add(len(msgs), {"consumer": self.durable, "type": "skipped"})

    async def _process_one(self, item: tuple[Msg, Delivery]) -> None:
        try:
            await self._handle([item])
        except Exception as exc:
            await self._fail([item], exc)
        else:
            await self._ack([item])

    async def _handle(self, batch: list[tuple[Msg, Delivery]]) -> None:
        deliveries = [d for _, d in batch]
        span = tracing.consumer_span(
            f"{self.durable} process",
            [d.trace_context for d in deliveries],
            {
                "messaging.system": "nats",
                "messaging.destination.name": self.stream,
                "messaging.consumer.group.name": self.durable,
                "messaging.batch.message_count": len(deliveries),
            },
        )
        with trace.use_span(span, end_on_exit=True, record_exception=True, set_status_on_exception=True):
            await self.handler(deliveries)

    async def _ack(self, batch: list[tuple[Msg, Delivery]]) -> None:
        self._consecutive_transient = 0
        by_type: dict[type[AnyEvent], int] = {}
        for msg, delivery in batch:
            await msg.ack()
            kind = type(delivery.event)
            by_type[kind] = by_type.get(kind, 0) + 1
        for kind, n in by_type.items():
            metrics.EVENTS_PROCESSED.add(n, {"consumer": self.durable, "type": kind.tag()})
        self.stats.acked += len(batch)

    async def _fail(self, batch: list[tuple[Msg, Delivery]], exc: Exception) -> None:
        if (poison := self.poison_reason(exc)) is not None:
            for msg, _ in batch:
                await self._terminate(msg, f"rejected: {poison}")
            return
        transient = self.is_transient(exc)
        if transient:
            self._consecutive_transient += 1
            self.stats.transient_failures += 1
        logger.warning(
            "handler failed",
            extra={
                "durable": self.durable,
                "error": repr(exc)[:500],
                "transient": transient,
                "count": len(batch),
            },
        )
        for msg, delivery in batch:
            if self._max_deliver > 0 and delivery.num_delivered >= self._max_deliver:
                await self._terminate(msg, f"gave up after {delivery.num_delivered} deliveries: {exc!r}")
                continue
            await msg.nak(delay=self.retry.delay(delivery.num_delivered))
            self.stats.naked += 1
            metrics.EVENTS_FAILED.add(1, {"consumer": self.durable, "outcome": "nak"})

    async def _terminate(self, msg: Msg, reason: str) -> None:
        """`term` with a reason (nats-py's `term()` takes none): the reason reaches the advisory and the DLQ."""
        clean = " ".join(reason.split())[:900]
        logger.error("message terminated", extra={"durable": self.durable, "subject": msg.subject, "reason": clean})
        if msg.reply:
            await self.nc.publish(msg.reply, b"+TERM " + clean.encode())
            msg._ackd = True
        self.stats.terminated += 1
        metrics.EVENTS_FAILED.add(1, {"consumer": self.durable, "outcome": "term"})


def durable_consumer(
    nc: Client,
    durable: str,
    handler: BatchHandler,
    *,
    stream: str = VOICE_STREAM_NAME,
    is_transient: Callable[[BaseException], bool] = db_is_transient,
    poison_reason: Callable[[BaseException], str | None] = db_poison_reason,
    **options: Any,
) -> Consumer:
    """A service's consumer of its durable (provisioned by `parley provision`) on `stream`.

    By default, Postgres's transient errors (and `TransientError`) are retried and what Postgres can never store
    is dead-lettered at once: the rules of every service that keeps tables."""
    return Consumer(
        nc,
        nc.jetstream(),
        stream,
        durable,
        handler,
        is_transient=is_transient,
        poison_reason=poison_reason,
        **options,
    )
