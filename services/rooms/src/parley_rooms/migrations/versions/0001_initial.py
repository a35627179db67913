"""Rooms, agent sessions, participants, idempotency keys, webhook receipts.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "rooms"
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("sid", sa.Text),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text),
        sa.Column("agent_name", sa.Text, nullable=False),
        sa.Column("metadata", postgresql.JSONB, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("finish_reason", sa.Text),
        schema=S,
    )
    op.create_index("ix_rooms_created", "rooms", ["created_at", "name"], schema=S)
    op.create_index("ix_rooms_user_created", "rooms", ["user_id", "created_at", "name"], schema=S)
    op.create_table(
        "agent_sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("room_name", sa.Text),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("end_reason", sa.Text),
        sa.Column("duration_seconds", sa.Float),
        schema=S,
    )
    op.create_index("ix_agent_sessions_room", "agent_sessions", ["room_name"], schema=S)
    op.create_table(
        "participants",
        sa.Column("room_name", sa.Text, primary_key=True),
        sa.Column("identity", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("joined_at", TS),
        sa.Column("left_at", TS),
        schema=S,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("room_name", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        schema=S,
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for table in ("webhook_events", "idempotency_keys", "participants", "agent_sessions", "rooms"):
        op.drop_table(table, schema=S)
