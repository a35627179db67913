"""Conversations, sessions and turns.

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

S = "history"


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_index("ix_conversations_started", "conversations", ["started_at", "id"], schema=S)
    op.create_index("ix_conversations_user_started", "conversations", ["user_id", "started_at", "id"], schema=S)
    op.create_table(
        "sessions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("conversation_id", sa.Text, sa.ForeignKey(f"{S}.conversations.id"), nullable=False),
        sa.Column("room_name", sa.Text),
        sa.Column("room_sid", sa.Text),
        sa.Column("agent_name", sa.Text),
        sa.Column("user_id", sa.Text),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("end_reason", sa.Text),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("expected_turns", sa.Integer),
        sa.Column("usage", postgresql.JSONB),
        sa.Column("metadata", postgresql.JSONB),
        schema=S,
    )
    op.create_index("ix_sessions_conversation", "sessions", ["conversation_id", "started_at"], schema=S)
    op.create_table(
        "turns",
        sa.Column("session_id", sa.Text, sa.ForeignKey(f"{S}.sessions.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("interrupted", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("language", sa.Text),
        sa.Column("metrics", postgresql.JSONB),
        sa.Column("usage", postgresql.JSONB),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("clock_timestamp()")),
        sa.Column("tsv", postgresql.TSVECTOR, sa.Computed("to_tsvector('simple', text)", persisted=True)),
        schema=S,
    )
    op.create_index("ix_turns_conversation_recent", "turns", ["conversation_id", "occurred_at", "seq"], schema=S)
    op.create_index("ix_turns_tsv", "turns", ["tsv"], postgresql_using="gin", schema=S)


def downgrade() -> None:
    op.drop_table("turns", schema=S)
    op.drop_table("sessions", schema=S)
    op.drop_table("conversations", schema=S)
