"""The webhooks service's tables (schema `webhooks`). Only this service reads or writes them.

* `endpoints`: where to send, which event types, the signing secret (encrypted; the previous one too, for a day
  after a rotation), and whether the endpoint is disabled and why.
* `messages`: one per event (or report) and endpoint, keyed by its `webhook-id`; the body exactly as signed;
  `pending` until delivered or given up, with the next attempt's time and a lease while one is in flight.
* `attempts`: every try of a message: when, the HTTP status or the error, how long it took.
* `reports`: a session's `call.report` as its parts arrive (the end, the transcript, the analysis, the turns'
  latencies), until it is sent.
* `erased`: conversations erased on request: their later events are dropped.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "webhooks"
metadata = MetaData(schema=SCHEMA)

Id = Text(collation="C")

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("secret", LargeBinary, nullable=False),  # AES-GCM (crypto.SecretBox)
    Column("previous_secret", LargeBinary, nullable=True),
    Column("previous_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("failing_since", DateTime(timezone=True), nullable=True),  # the first failure since the last success
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("disabled_reason", Text, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),  # the webhook-id, the same on every attempt and replay
    Column("endpoint_id", Id, ForeignKey(f"{SCHEMA}.endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=True),
    Column("conversation_id", Id, nullable=True),
    Column("body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", Text, nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_messages_due", "endpoint_id", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_messages_leased", "endpoint_id", postgresql_where=text("lease_until IS NOT NULL")),
    Index("ix_messages_endpoint", "endpoint_id", "created_at"),
    Index("ix_messages_conversation", "conversation_id"),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("message_id", Id, ForeignKey(f"{SCHEMA}.messages.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("error", Text, nullable=True),
    Index("ix_attempts_message", "message_id", "at"),
)

reports = Table(
    "reports",
    metadata,
    Column("session_id", Id, primary_key=True),
    Column("conversation_id", Id, nullable=False),
    Column("ended", JSONB, nullable=True),  # the session_ended event
    Column("recordings", JSONB, nullable=False, server_default="[]"),  # recording_stored events
    Column("analysis", JSONB, nullable=True),  # the newest session_analyzed event
    Column("latencies", JSONB, nullable=False, server_default="{}"),  # seq -> e2e latency of the turn, s
    Column("due_at", DateTime(timezone=True), nullable=True),  # sent then with what is there
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_reports_due", "due_at", postgresql_where=text("sent_at IS NULL")),
    Index("ix_reports_conversation", "conversation_id"),
)

erased = Table(
    "erased",
    metadata,
    Column("conversation_id", Id, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
)
