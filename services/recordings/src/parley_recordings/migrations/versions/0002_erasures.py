"""Erasure on request: one row per conversation erased (`conversation_erased.v1`), kept forever.

The id is retired: a `session_ended` of that conversation that arrives later (a call still running, a
redelivery, a replayed dead letter) stores nothing, and its audio is deleted from the object store.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema="recordings",
    )


def downgrade() -> None:
    op.drop_table("erasures", schema="recordings")
