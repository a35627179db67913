"""Recordings: one row per stored transcript or audio object.

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

S = "recordings"


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("session_id", "kind", "format", name="uq_recordings_session_kind_format"),
        schema=S,
    )
    op.create_index("ix_recordings_conversation", "recordings", ["conversation_id", "created_at"], schema=S)
    op.create_index("ix_recordings_created", "recordings", ["created_at"], schema=S)


def downgrade() -> None:
    op.drop_table("recordings", schema=S)
