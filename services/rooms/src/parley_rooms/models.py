"""The rooms service's tables (schema `rooms`). Only this service reads or writes them.

A room's status is derived, not stored: `ended` once the room finished or its agent session ended,
`active` once the agent session started, else `waiting`. Session facts arrive in any order and are
merged into `agent_sessions`, so duplicates and reordering converge on the same status.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Index, Integer, MetaData, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "rooms"
metadata = MetaData(schema=SCHEMA)

rooms = Table(
    "rooms",
    metadata,
    Column("name", Text, primary_key=True),
    Column("sid", Text),
    Column("conversation_id", Text, nullable=False),
    Column("user_id", Text),
    Column("agent_name", Text, nullable=False),
    Column("metadata", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("finish_reason", Text),
    Column("erased_at", DateTime(timezone=True)),  # its conversation was erased: personal data scrubbed
    # Agent failover (`failover`): how often the agent was dispatched again, and when last.
    Column("agent_redispatches", Integer, nullable=False, server_default=text("0")),
    Column("agent_redispatched_at", DateTime(timezone=True)),
    Index("ix_rooms_created", "created_at", "name"),
    Index("ix_rooms_user_created", "user_id", "created_at", "name"),
    Index("ix_rooms_conversation", "conversation_id"),
)

agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("room_name", Text),
    Column("conversation_id", Text, nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", Text),
    Column("duration_seconds", Float),
    Index("ix_agent_sessions_room", "room_name"),
    Index("ix_agent_sessions_time", func.coalesce(text("ended_at"), text("started_at"))),
)

participants = Table(
    "participants",
    metadata,
    Column("room_name", Text, primary_key=True),
    Column("identity", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("joined_at", DateTime(timezone=True)),
    Column("left_at", DateTime(timezone=True)),
    Index("ix_participants_agent_left", "left_at", postgresql_where=text("kind = 'agent'")),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("room_name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_idempotency_keys_created", "created_at"),
    Index("ix_idempotency_keys_room", "room_name"),
)

erasures = Table(
    "erasures",
    metadata,
    Column("conversation_id", Text, primary_key=True),  # retired: no room is created for it again
    Column("erased_at", DateTime(timezone=True), nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("event", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhook_events_received", "received_at"),
)
