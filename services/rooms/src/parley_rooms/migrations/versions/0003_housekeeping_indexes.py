"""Indexes for housekeeping (`retention`): receipts and idempotency keys by age, sessions by their time.

Without them each hourly pass would read the whole of each table to find the few rows that expired.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "rooms"


def upgrade() -> None:
    op.create_index("ix_webhook_events_received", "webhook_events", ["received_at"], schema=S)
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at"], schema=S)
    op.create_index("ix_idempotency_keys_room", "idempotency_keys", ["room_name"], schema=S)
    op.create_index(
        "ix_agent_sessions_time", "agent_sessions", [sa.text("COALESCE(ended_at, started_at)")], schema=S
    )


def downgrade() -> None:
    op.drop_index("ix_agent_sessions_time", "agent_sessions", schema=S)
    op.drop_index("ix_idempotency_keys_room", "idempotency_keys", schema=S)
    op.drop_index("ix_idempotency_keys_created", "idempotency_keys", schema=S)
    op.drop_index("ix_webhook_events_received", "webhook_events", schema=S)
