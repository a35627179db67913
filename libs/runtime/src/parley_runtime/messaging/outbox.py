"""The producer-side outbox: `emit()` never waits on the network, and nothing emitted is lost.

`emit()` is synchronous and O(1): it captures the trace context and appends the event to a bounded
in-memory queue, or, when that is full, to the spill file (`spill`). A background task encodes and
publishes with `Nats-Msg-Id = event_id`, retrying the same id with backoff until JetStream acks it (a
backlog goes in windows, each a fast-ingest batch: see `publish`), so a retry after a lost ack is
de-duplicated by the stream. While NATS is down nothing is sent (the client's reconnect buffer would stack
copies) and the backlog moves to disk within `OUTAGE_SPILL_SECONDS`, so a process killed in an outage
loses at most that much. The same goes while NATS answers but JetStream does not store (its disk full, a
stream without quorum), and meanwhile one event at a time probes until one is stored. On close,
what could not be published within the drain timeout is spilled for the next start to replay; with no
spill file, or one whose disk fails (`spill`), overflow is counted as dropped and logged, and `emit()`
never raises.

Use from one event loop thread (the agent's): `emit()` is not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from pathlib import Path

from nats.aio.client import Client

from parley_contracts import Event
from parley_runtime.messaging.connection import NatsSettings, connect
from parley_runtime.messaging.entries import Entry, LazyEntry, Queued, as_entry
from parley_runtime.messaging.publish import Outcome, WindowPublisher
from parley_runtime.messaging.spill import SpillFile
from parley_runtime.observability import metrics, tracing

logger = logging.getLogger(__name__)

# While NATS is unreachable the backlog is written to the spill file (and the file flushed to the kernel)
# this often: a SIGKILLed process then loses at most this much of what it emitted, not its whole queue.
OUTAGE_SPILL_SECONDS = 0.1


class Outbox:
    """Bounded, spilling, retrying JetStream publisher. Start it, `emit()` from the hot path, `close()` at exit."""

    def __init__(
        self,
        settings: NatsSettings,
        *,
        name: str,
        maxsize: int = 10_000,
        spill_path: Path | None = None,
        # At most this many messages per publish round. Only a backlog (a burst, a replay after an outage)
        # fills a window, and then a larger one costs the agent less per message.
        window: int = 256,
        ack_timeout: float = 2.0,
        retry_base: float = 0.1,
        retry_cap: float = 5.0,
        nc: Client | None = None,
    ) -> None:
        self._settings = settings
        self.name = name  # labels its metrics
        self._maxsize = maxsize
        self._disk = SpillFile(spill_path) if spill_path is not None else None
        self._window = window
        self._ack_timeout = ack_timeout
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._nc = nc
        self._owns_nc = nc is None
        self._queue: deque[Queued] = deque()
        self._inflight: list[Queued] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._guard_task: asyncio.Task[None] | None = None
        # NATS answers but JetStream does not store (no stream, a lost quorum, a full disk): the backlog then
        # waits on disk, as in an outage, and one event at a time probes until one is stored.
        self._refused = False
        self.emitted = 0
        self.published = 0
        self.dropped = 0
        self.spilled = 0
        self.publisher: WindowPublisher | None = None  # once running (its `fast` stats: batches and how they ended)

    # -- the hot path ---------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue an event for publishing. Never blocks on I/O to NATS, never raises for transport reasons."""
        trace = tracing.inject({}) or None
        self._enqueue(LazyEntry(event, trace))

    def emit_raw(self, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """Queue a pre-encoded message; `headers` must carry `Nats-Msg-Id` for de-duplication."""
        self._enqueue((subject, data, headers))

    def _enqueue(self, item: Queued) -> None:
        # Behind a backlog on disk, new events queue up in the file too (so the backlog cannot be starved),
        # except in an outage: then they wait in memory and the guard moves them to disk in the background,
        # so emit() does not encode and write on the call's loop.
        behind_backlog = self._spilling and self._online
        if behind_backlog or len(self._queue) + len(self._inflight) >= self._maxsize:
            self._spill(as_entry(item))
        else:
            self._queue.append(item)
        self.emitted += 1  # exported by an observable instrument, not a per-call metric (hot path)
        self._wake.set()

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def nc(self) -> Client | None:
        """The NATS connection once established (the agent reuses it for request/reply)."""
        return self._nc

    @property
    def _online(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def spill_path(self) -> Path | None:
        return self._disk.path if self._disk is not None else None

    @property
    def _spilling(self) -> bool:
        """Whether a backlog is on disk (it is published before anything newer)."""
        return self._disk is not None and self._disk.pending and self._disk.usable

    async def connected(self) -> Client:
        """The connection once it is up (bound the wait with a timeout: it may never come)."""
        while self._nc is None or not self._nc.is_connected:
            await asyncio.sleep(0.01)
        return self._nc

    @property
    def backlog(self) -> int:
        """Events not yet acked by JetStream: in memory, in flight, refused by the disk (the guard takes them back
        into memory) and spilled. Counts only, no I/O: the metrics exporter reads it from its own thread."""
        queued = len(self._queue) + len(self._inflight)
        return queued if self._disk is None else queued + len(self._disk.failed) + self._disk.waiting

    def start(self) -> Outbox:
        metrics.watch_outbox(self)
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._run(), name=f"outbox-{self.name}")
        if self._guard_task is None and self._disk is not None:
            self._guard_task = loop.create_task(self._guard(self._disk), name=f"outbox-{self.name}-guard")
        return self

    async def drain(self, timeout: float) -> bool:
        """Wait until everything emitted so far is acked; True if the outbox is empty."""
        deadline = time.monotonic() + timeout
        while self.backlog and time.monotonic() < deadline:
            if self._task is not None and self._task.done():
                break
            await asyncio.sleep(0.01)
        return self.backlog == 0

    async def close(self, timeout: float = 5.0) -> int:
        """Drain for up to `timeout`, persist what is left to the spill file, stop.

        Returns how many events are left unpublished: in the spill file for the next start (some may have
        gone there during an outage, before close), or dropped when there is no spill file.
        """
        await self.drain(timeout)
        for task in (self._task, self._guard_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._guard_task = None
        left = list(self._inflight) + list(self._queue)
        self._inflight.clear()
        self._queue.clear()
        if left and self._disk is not None:
            # Replayed by the next start; consumers order by `seq`, not by stream position.
            for item in left:
                self._to_disk(self._disk, as_entry(item))
        elif left:
            self._drop(len(left), "outbox closed with unpublished events")
        if self._disk is not None:
            self._disk.close()
            if lost := self._disk.take_failed():
                self._drop(len(lost), "outbox closed with events its spill file could not take")
        if self._owns_nc and self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), timeout=2)
        return self._disk.waiting if self._disk is not None else len(left)

    # -- internals ------------------------------------------------------------------------------

    def _drop(self, count: int, why: str) -> None:
        self.dropped += count
        metrics.OUTBOX_DROPPED.add(count)
        if count > 1 or self.dropped == 1 or self.dropped % 1000 == 0:  # one at a time: a line per 1,000
            logger.error(why, extra={"count": count, "dropped": self.dropped})

    def _spill(self, entry: Entry) -> None:
        if self._disk is None or not self._disk.usable:
            self._drop(1, "outbox full and no usable spill file: event dropped")
        else:
            self._to_disk(self._disk, entry)

    def _to_disk(self, disk: SpillFile, entry: Entry) -> None:
        # Buffered: the guard flushes it to the kernel every OUTAGE_SPILL_SECONDS; close and refill flush too.
        disk.append(entry)
        self.spilled += 1
        metrics.OUTBOX_SPILLED.add(1)

    def _write_out(self, disk: SpillFile, *, move_queue: bool) -> None:
        """Move the queue to disk if `move_queue`, write what is buffered, and take back into memory what the
        disk refused (NATS may yet take those: the run loop is woken for them)."""
        while move_queue and self._queue:
            self._to_disk(disk, as_entry(self._queue.popleft()))
        disk.flush()
        if failed := disk.take_failed():
            self._queue.extendleft(reversed(failed))
            self._wake.set()

    def _refill_from_spill(self) -> None:
        """The next chunk of spilled events into memory (one while JetStream refuses); empty file once acked."""
        assert self._disk is not None
        try:
            self._queue.extend(self._disk.read(1 if self._refused else max(1, self._maxsize // 2)))
            if not self._queue and self._disk.at_end():
                self._disk.reset()
        except OSError as exc:
            self._disk.mark_down()
            logger.error("outbox spill file unreadable", extra={"error": str(exc)})

    async def _guard(self, disk: SpillFile) -> None:
        """While NATS is unreachable, keep the backlog on disk, not in memory: a killed process keeps it."""
        while True:
            await asyncio.sleep(OUTAGE_SPILL_SECONDS)
            try:
                self._write_out(disk, move_queue=(self._refused or not self._online) and disk.usable)
                if disk.pending and disk.usable:
                    self._wake.set()  # a backlog on disk (again usable) goes before anything newer
            except Exception:
                logger.exception("outbox guard failed")  # and it goes on: it is all that saves an outage

    async def _run(self) -> None:
        if self._nc is None:
            self._nc = await connect(self._settings, name=self.name, retry_initial=True)
        publisher = self.publisher = await WindowPublisher(self._nc).start()
        failures = 0
        while True:
            if not self._nc.is_connected:
                # Publishing now would only stack copies in the client's reconnect buffer, and reading the
                # spill file back would only have the guard write it out again.
                await asyncio.sleep(0.05)
                continue
            if self._refused and self._queue and self._disk is not None and self._disk.usable:
                self._write_out(self._disk, move_queue=True)  # the probe comes from disk: a kill loses nothing
            if not self._queue and self._spilling:
                self._refill_from_spill()
            if not self._queue:
                self._wake.clear()
                if self._spilling:
                    await asyncio.sleep(0)
                    continue
                await self._wake.wait()
                continue
            n = 1 if self._refused else min(self._window, len(self._queue))
            self._inflight = [self._queue.popleft() for _ in range(n)]
            failed, why = await self._publish_window(publisher, self._inflight)
            self._inflight = []
            if failed:
                self._queue.extendleft(reversed(failed))
                failures += 1
                if self._nc.is_connected and not self._refused:  # reachable, yet not stored: say why
                    logger.warning("JetStream is not storing events", extra={"outbox": self.name, "error": why})
                self._refused = self._nc.is_connected
                await asyncio.sleep(min(self._retry_cap, self._retry_base * 2 ** min(failures, 10)))
            else:
                if self._refused:
                    logger.info("JetStream stores events again", extra={"outbox": self.name})
                failures, self._refused = 0, False

    async def _publish_window(self, publisher: WindowPublisher, items: list[Queued]) -> tuple[list[Queued], str]:
        """Publish a window, wait for its PubAcks; the entries to retry (unanswered in time, or refused for a
        passing reason) and the last error. Entries JetStream rejects for good are dropped and counted."""
        outcomes, errors = await publisher.publish_traced([as_entry(item) for item in items], self._ack_timeout)
        retry: list[Queued] = []
        # Unanswered: JetStream is slow, or cannot write its store (a full or failing disk), which nats-server
        # logs and its /healthz reports; an operator needs to know where to look.
        stored, why = 0, f"no acknowledgement within {self._ack_timeout} s (see the NATS server's log and /healthz)"
        for item, outcome, error in zip(items, outcomes, errors, strict=True):
            if outcome is Outcome.STORED:
                stored += 1
            elif outcome is Outcome.REJECTED:
                self.dropped += 1
                metrics.OUTBOX_DROPPED.add(1)
                logger.error("event rejected by JetStream, dropped", extra={"error": error})
            else:
                retry.append(item)
                why = error or why
        self.published += stored
        metrics.OUTBOX_PUBLISHED.add(stored)  # once per window: a counter add per event costs microseconds
        return retry, why
