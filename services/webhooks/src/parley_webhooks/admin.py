"""The endpoints and their delivery log, as the API manages and reads them (SQL only here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_runtime.web.cursors import cursor_text, cursor_time, decode_cursor, encode_cursor
from parley_webhooks import signing
from parley_webhooks.crypto import SecretBox
from parley_webhooks.models import attempts, endpoints, messages
from parley_webhooks.routing import DEFAULT_TYPES, TEST, NewMessage, body

ROTATION_OVERLAP = timedelta(hours=24)


class EndpointOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: datetime
    updated_at: datetime
    enabled: bool
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    secret: str | None = None  # only when it is made: at creation and rotation


class Attempt(msgspec.Struct, kw_only=True, omit_defaults=True):
    at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None


class Delivery(msgspec.Struct, kw_only=True, omit_defaults=True):
    webhook_id: str
    event_type: str
    status: str
    created_at: datetime
    attempts: list[Attempt]
    event_id: str | None = None
    conversation_id: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None


def _out(row: Any, secret: str | None = None) -> EndpointOut:
    return EndpointOut(
        id=row.id, url=row.url, event_types=list(row.event_types), description=row.description,
        created_at=row.created_at, updated_at=row.updated_at, enabled=row.disabled_at is None,
        disabled_reason=row.disabled_reason, failing_since=row.failing_since, secret=secret,
    )  # fmt: skip


@dataclass
class Admin:
    engine: AsyncEngine
    box: SecretBox

    async def create(self, url: str, event_types: list[str] | None, description: str, now: datetime) -> EndpointOut:
        secret = signing.new_secret()
        values = {"id": "ep_" + uuid.uuid4().hex, "url": url, "event_types": event_types or list(DEFAULT_TYPES),
                  "description": description, "secret": self.box.seal(secret), "created_at": now,
                  "updated_at": now}  # fmt: skip
        async with self.engine.begin() as conn:
            row = (await conn.execute(insert(endpoints).values(values).returning(endpoints))).one()
        return _out(row, secret)

    async def every(self) -> list[EndpointOut]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(endpoints).order_by(endpoints.c.created_at, endpoints.c.id))).all()
        return [_out(r) for r in rows]

    async def get(self, endpoint_id: str) -> EndpointOut | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id))).first()
        return _out(row) if row else None

    async def update(self, endpoint_id: str, changes: dict[str, Any], now: datetime) -> EndpointOut | None:
        values = {k: v for k, v in changes.items() if k in ("url", "event_types", "description")}
        if "enabled" in changes:  # enabling again starts with a clean record
            values |= {"disabled_at": None if changes["enabled"] else now, "failing_since": None,
                       "disabled_reason": None if changes["enabled"] else "disabled through the API"}  # fmt: skip
        q = update(endpoints).where(endpoints.c.id == endpoint_id).values(**values, updated_at=now)
        async with self.engine.begin() as conn:
            row = (await conn.execute(q.returning(endpoints))).first()
        return _out(row) if row else None

    async def delete(self, endpoint_id: str) -> bool:
        async with self.engine.begin() as conn:
            return bool((await conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))).rowcount)

    async def rotate(self, endpoint_id: str, now: datetime) -> tuple[EndpointOut, datetime] | None:
        """A new secret; the old one keeps signing beside it for a day, so receivers can switch."""
        secret, until = signing.new_secret(), now + ROTATION_OVERLAP
        q = (
            update(endpoints).where(endpoints.c.id == endpoint_id)
            .values(previous_secret=endpoints.c.secret, previous_until=until, secret=self.box.seal(secret),
                    updated_at=now)
            .returning(endpoints)
        )  # fmt: skip
        async with self.engine.begin() as conn:
            row = (await conn.execute(q)).first()
        return (_out(row, secret), until) if row else None

    async def test_message(self, endpoint_id: str, now: datetime) -> NewMessage:
        data = {"endpoint_id": endpoint_id, "message": "A test from Parley: your endpoint receives and verifies."}
        return NewMessage(signing.message_id(endpoint_id, f"test/{uuid.uuid4()}"), endpoint_id, TEST, None, None,
                          body(TEST, now, data))  # fmt: skip

    async def deliveries(
        self, endpoint_id: str, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Delivery], str | None]:
        q = select(messages).where(messages.c.endpoint_id == endpoint_id)
        if status:
            q = q.where(messages.c.status == status)
        if cursor:
            at, mid = decode_cursor(cursor, 2)
            q = q.where(tuple_(messages.c.created_at, messages.c.id) < tuple_(cursor_time(at), cursor_text(mid)))
        q = q.order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(limit + 1)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()[: limit + 1]
            page = rows[:limit]
            tried = select(attempts).where(attempts.c.message_id.in_([r.id for r in page])).order_by(attempts.c.at)
            log: dict[str, list[Attempt]] = {}
            for a in (await conn.execute(tried)).all():
                log.setdefault(a.message_id, []).append(
                    Attempt(at=a.at, duration_ms=round(a.duration_ms, 1), status_code=a.status_code, error=a.error)
                )
        items = [
            Delivery(
                webhook_id=r.id,
                event_type=r.event_type,
                status=r.status,
                created_at=r.created_at,
                attempts=log.get(r.id, []),
                event_id=str(r.event_id) if r.event_id else None,
                conversation_id=r.conversation_id,
                next_attempt_at=r.next_attempt_at,
                delivered_at=r.delivered_at,
            )
            for r in page
        ]
        last = page[-1] if len(rows) > limit else None
        return items, encode_cursor(last.created_at, last.id) if last else None

    async def replay(self, message_id: str, now: datetime) -> bool:
        """Send it again with the same webhook-id, its retry schedule from the start; its log is kept."""
        q = (
            update(messages).where(messages.c.id == message_id)
            .values(status="pending", attempts=0, next_attempt_at=now, lease_until=None, delivered_at=None)
        )  # fmt: skip
        async with self.engine.begin() as conn:
            return bool((await conn.execute(q)).rowcount)

    async def counts(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            q = select(messages.c.status, func.count()).group_by(messages.c.status)
            return {s: int(n) for s, n in (await conn.execute(q)).all()}
