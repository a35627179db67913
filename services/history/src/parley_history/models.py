"""The history service's tables (schema `history`). Only this service reads or writes them.

* `conversations`: one row per conversation id, with the user and first/last activity.
* `sessions`: one row per agent session; filled in by whichever of its events arrives first, completed
  by the others. A session is incomplete while `expected_turns` (from `session_ended`) exceeds the turns
  stored; that is computed on read, so the write path never rewrites session rows per turn.
* `erasures`: the ids of conversations erased on request, whose later events are dropped.
* `turns`: one row per `turn_completed`, keyed by (`session_id`, `seq`) (a re-emit with a new id is the
  same turn) and unique on `event_id` (redelivery), with a generated `tsvector` for full-text search.

`conversations.last_activity_at` is kept to the minute: refreshing it on every turn would rewrite the
row for every batch.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

SCHEMA = "history"
metadata = MetaData(schema=SCHEMA)

Id = Text(collation="C")  # opaque ids compare byte by byte, not by language rules (migration 0004)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True),
    Column("user_id", Id, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("last_activity_at", DateTime(timezone=True), nullable=False),
    Index("ix_conversations_started", "started_at", "id"),
    Index("ix_conversations_user_started", "user_id", "started_at", "id"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("conversation_id", Id, ForeignKey(f"{SCHEMA}.conversations.id"), nullable=False),
    Column("room_name", Text, nullable=True),
    Column("room_sid", Text, nullable=True),
    Column("agent_name", Text, nullable=True),
    Column("user_id", Id, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("end_reason", Text, nullable=True),
    Column("duration_seconds", Float, nullable=True),
    Column("expected_turns", Integer, nullable=True),
    Column("usage", JSONB, nullable=True),
    Column("metadata", JSONB, nullable=True),
    Index("ix_sessions_conversation", "conversation_id", "started_at"),
    Index("ix_sessions_started", "started_at"),
    # When the row was written (never updated): a session open long after it is presumed lost (lost_sessions).
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_sessions_last_time", func.coalesce(text("ended_at"), text("started_at")), "id"),  # retention's walk
    Index("ix_sessions_open", "received_at", postgresql_where=text("ended_at IS NULL")),
    # The session of an earlier attempt at the same LiveKit job, whose agent was lost (lost_sessions).
    Column("resumed_from", Id, nullable=True),
    Index("ix_sessions_resumed", "resumed_from", postgresql_where=text("resumed_from IS NOT NULL")),
)

turns = Table(
    "turns",
    metadata,
    Column("session_id", Id, primary_key=True),  # no foreign key: checked once per batch (migration 0002)
    Column("seq", Integer, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("conversation_id", Id, nullable=False),
    Column("role", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("interrupted", Boolean, nullable=False, server_default="false"),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("language", Text, nullable=True),
    Column("metrics", JSONB, nullable=True),
    Column("usage", JSONB, nullable=True),
    Column("agent", Text, nullable=True),  # which of the session's agents spoke (or listened), migration 0009
    Column("words", JSONB, nullable=True),  # the caller's words with their times (turn_completed.v1.words)
    Column("redactions", JSONB, nullable=True),  # [{type, start, end}]: masks in `text` (turn_completed.v1)
    # When the row was written. A turn's occurred_at is when its message began (the framework's created_at),
    # so stored_at - occurred_at also holds the message's own length; the pipeline's lag is in its trace.
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")),
    Column("tsv", TSVECTOR, Computed("to_tsvector('simple', text)", persisted=True)),
    # The agent's history.v1.recent and the REST turns page: newest turns of one conversation.
    Index("ix_turns_conversation_recent", "conversation_id", "occurred_at", "seq"),
    Index("ix_turns_tsv", "tsv", postgresql_using="gin"),
)

# A session's agent handing the conversation to another (migration 0009); gone with its session.
handoffs = Table(
    "handoffs",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("conversation_id", Id, nullable=False),
    Column("session_id", Id, ForeignKey(f"{SCHEMA}.sessions.id", ondelete="CASCADE"), nullable=False),
    Column("from_agent", Text, nullable=True),
    Column("to_agent", Text, nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_handoffs_session", "session_id", "at"),
    Index("ix_handoffs_conversation", "conversation_id"),
)

# A session's analysis and cost (migration 0010): the highest revision of its `session_analyzed.v1`.
session_analyses = Table(
    "session_analyses",
    metadata,
    Column("session_id", Id, ForeignKey(f"{SCHEMA}.sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("conversation_id", Id, nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("analyzer", Text, nullable=False),
    Column("summary", Text, nullable=True),
    Column("data_schema", Text, nullable=True),
    Column("data", JSONB, nullable=True),
    Column("evaluation", JSONB, nullable=True),
    Column("failure", Text, nullable=True),
    Column("currency", Text, nullable=True),
    Column("cost_total", Float, nullable=True),
    Column("cost", JSONB, nullable=True),
    Column("analyzed_at", DateTime(timezone=True), nullable=False),
    Index("ix_session_analyses_conversation", "conversation_id"),
)

# One row per erased conversation, kept forever: the id is retired (migration 0006, `parley_history.erasure`).
erasures = Table(
    "erasures",
    metadata,
    Column("conversation_id", Id, primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("turns_deleted", BigInteger, nullable=False, server_default="0"),
    Column("sessions_deleted", BigInteger, nullable=False, server_default="0"),
    Column("published_at", DateTime(timezone=True), nullable=True),  # conversation_erased.v1 acked by JetStream
    Column("purged_at", DateTime(timezone=True), nullable=True),  # its events purged from VOICE and DLQ (as of)
    Column("late_event_at", DateTime(timezone=True), nullable=True),  # the consumer last saw one of its events
    Index(
        "ix_erasures_unfinished",
        "requested_at",
        postgresql_where=text("published_at IS NULL OR purged_at IS NULL OR late_event_at > purged_at"),
    ),
)
