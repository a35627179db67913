"""Sending: claim due messages, post each signed, record the attempt and what follows (`policy.after`).

Claims are leases in Postgres, so any number of replicas share the queue and a replica killed mid-delivery
loses nothing: its lease runs out and the message is sent again, with the same `webhook-id`. A claim takes at
most `per_endpoint` messages of one endpoint, counting those in flight on every replica, so a slow receiver
holds up only its own messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from opentelemetry import metrics
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_webhooks import policy, signing
from parley_webhooks.crypto import SecretBox

logger = logging.getLogger(__name__)
meter = metrics.get_meter("parley.webhooks")
ATTEMPTS = meter.create_counter("parley.webhooks.attempts", description="Delivery attempts, by outcome")
DISABLED = meter.create_counter("parley.webhooks.endpoints_disabled", description="Endpoints disabled, by reason")

# Per enabled endpoint (a small table), its free places (the bound less what is leased on any replica, read from a
# partial index of leased rows), then its earliest due messages through the (endpoint, due time) index: the cost
# follows what is claimed, not the backlog. The endpoint's URL and secrets come back with each message.
CLAIM = text("""
WITH free AS (
    SELECT e.id, :per_endpoint - (SELECT count(*) FROM webhooks.messages l
                                  WHERE l.endpoint_id = e.id AND l.lease_until > now()) AS places
    FROM webhooks.endpoints e WHERE e.disabled_at IS NULL
), pick AS (
    SELECT d.id, d.next_attempt_at FROM free, LATERAL (
        SELECT m.id, m.next_attempt_at FROM webhooks.messages m
        WHERE m.endpoint_id = free.id AND m.status = 'pending' AND m.next_attempt_at <= now()
          AND (m.lease_until IS NULL OR m.lease_until < now())
        ORDER BY m.next_attempt_at LIMIT greatest(free.places, 0)
    ) AS d
    ORDER BY d.next_attempt_at LIMIT :limit
)
UPDATE webhooks.messages m SET lease_until = now() + make_interval(secs => :lease)
FROM pick, webhooks.endpoints e
WHERE m.id = pick.id AND e.id = m.endpoint_id AND m.status = 'pending'
  AND (m.lease_until IS NULL OR m.lease_until < now())
RETURNING m.id, m.endpoint_id, m.body, m.attempts, m.event_type, m.created_at,
          e.url, e.secret, e.previous_secret, e.previous_until, e.failing_since
""")
# One round trip per attempt: the endpoint's row locked first (as deleting it does, then its messages: the two
# cannot deadlock), the attempt logged, the message moved on, the endpoint's failure streak kept. Nothing is
# written when the endpoint is gone (deleted meanwhile, with its messages and their log).
RECORD = text("""
WITH ep AS (SELECT id FROM webhooks.endpoints WHERE id = :endpoint_id FOR NO KEY UPDATE),
logged AS (
    INSERT INTO webhooks.attempts (message_id, at, status_code, duration_ms, error)
    SELECT :id, :at, :status_code, :duration_ms, :error FROM ep
),
moved AS (
    UPDATE webhooks.messages SET status = :status, attempts = attempts + 1, next_attempt_at = :next_at,
        lease_until = NULL, last_error = :error,
        delivered_at = CASE WHEN :status = 'delivered' THEN CAST(:at AS timestamptz) END
    WHERE id = :id AND status = 'pending' AND EXISTS (SELECT 1 FROM ep)
)
UPDATE webhooks.endpoints SET failing_since = CASE WHEN CAST(:ok AS boolean) THEN NULL ELSE CAST(:at AS timestamptz) END
WHERE id IN (SELECT id FROM ep) AND (failing_since IS NULL) <> CAST(:ok AS boolean)  -- only when it changes
""")
DISABLE = text("""
WITH off AS (
    UPDATE webhooks.endpoints SET disabled_at = :at, disabled_reason = :reason, updated_at = :at
    WHERE id = :id AND disabled_at IS NULL RETURNING id
)
UPDATE webhooks.messages SET status = 'failed', lease_until = NULL, next_attempt_at = NULL,
    last_error = 'endpoint disabled: ' || :reason
WHERE endpoint_id IN (SELECT id FROM off) AND status = 'pending'
""")


@dataclass(frozen=True)
class Claimed:
    id: str
    endpoint_id: str
    body: bytes
    attempts: int
    event_type: str
    created_at: datetime
    endpoint: Any  # its url, secret, previous_secret, previous_until, failing_since


def _secrets(row: Any, box: SecretBox, now: datetime) -> list[str]:
    found = [box.open(row.secret)]
    if row.previous_secret is not None and row.previous_until is not None and row.previous_until > now:
        found.append(box.open(row.previous_secret))  # a rotation's first day: the receiver may hold either
    return found


class Dispatcher:
    def __init__(
        self, engine: AsyncEngine, client: httpx.AsyncClient, box: SecretBox, *, timeout: float, concurrency: int,
        per_endpoint: int, disable_after: timedelta, schedule: tuple[float, ...] = policy.SCHEDULE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:  # fmt: skip
        self.engine, self.client, self.box = engine, client, box
        self.timeout, self.per_endpoint, self.disable_after, self.now = timeout, per_endpoint, disable_after, now
        self.schedule = schedule
        self.concurrency = concurrency
        self.wakeup = asyncio.Event()  # set when messages are queued
        self.in_flight: set[asyncio.Task[None]] = set()

    async def claim(self, limit: int) -> list[Claimed]:
        params = {"lease": self.timeout + 30, "per_endpoint": self.per_endpoint, "limit": limit}
        async with self.engine.begin() as conn:
            rows = (await conn.execute(CLAIM, params)).all()
        return [Claimed(r.id, r.endpoint_id, r.body, r.attempts, r.event_type, r.created_at, r) for r in rows]

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop`; deliveries in flight then finish (within the timeout)."""
        while not stop.is_set():
            free = self.concurrency - len(self.in_flight)
            claimed = await self._claim_logged(free) if free > 0 else []
            for message in claimed:
                task = asyncio.create_task(self.deliver(message))
                self.in_flight.add(task)
                task.add_done_callback(self.in_flight.discard)
                task.add_done_callback(lambda _: self.wakeup.set())  # a slot is free: its endpoint may have more
            if len(claimed) < free:
                self.wakeup.clear()
                waits = [asyncio.ensure_future(e.wait()) for e in (stop, self.wakeup)]
                await asyncio.wait(waits, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
            elif not claimed:
                await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
        if self.in_flight:
            await asyncio.wait(self.in_flight, timeout=self.timeout + 5)

    async def _claim_logged(self, limit: int) -> list[Claimed]:
        try:
            return await self.claim(limit)
        except Exception:  # Postgres away: the queue waits in it, nothing is lost; try again shortly
            logger.warning("cannot claim webhook messages", exc_info=True)
            return []

    async def deliver(self, message: Claimed) -> None:
        try:
            result, took = await self._post(message, message.endpoint)
            await self._record(message, message.endpoint, result, took)
        except Exception:
            logger.exception("a webhook delivery could not be recorded", extra={"webhook_id": message.id})

    async def _post(self, message: Claimed, endpoint: Any) -> tuple[policy.Result, float]:
        now = self.now()
        headers = signing.headers(_secrets(endpoint, self.box, now), message.id, int(now.timestamp()), message.body)
        started = time.perf_counter()
        try:
            r = await self.client.post(endpoint.url, content=message.body, headers=headers, timeout=self.timeout)
            result = policy.Result(r.status_code, None if r.is_success else f"HTTP {r.status_code}")
        except httpx.TimeoutException:
            result = policy.Result(None, f"no answer within {self.timeout:g} s")
        except Exception as exc:  # refused, unreachable, a name that cannot be encoded: an attempt that failed
            result = policy.Result(None, f"{type(exc).__name__}: {exc}"[:500])
        return result, (time.perf_counter() - started) * 1000

    async def _record(self, message: Claimed, endpoint: Any, result: policy.Result, took_ms: float) -> None:
        now = self.now()
        failing_since = endpoint.failing_since if not result.ok else None
        following = policy.after(
            result, message.attempts + 1, now, failing_since, self.disable_after, schedule=self.schedule
        )
        attempt = {"id": message.id, "endpoint_id": message.endpoint_id, "at": now, "ok": result.ok,
                   "status_code": result.status_code, "duration_ms": took_ms, "error": result.error,
                   "status": following.status, "next_at": following.next_attempt_at}  # fmt: skip
        async with self.engine.begin() as conn:
            await conn.execute(RECORD, attempt)
            if following.disable_reason:
                await conn.execute(DISABLE, {"id": message.endpoint_id, "at": now, "reason": following.disable_reason})
        ATTEMPTS.add(
            1, {"outcome": "delivered" if result.ok else ("failed" if following.status == "failed" else "retry")}
        )
        if following.disable_reason:
            DISABLED.add(1)
            logger.warning(
                "webhook endpoint disabled",
                extra={"endpoint_id": message.endpoint_id, "reason": following.disable_reason},
            )
