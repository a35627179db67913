"""Erasure on request: retired conversation ids, and rooms whose personal data was scrubbed.

`erasures` holds one row per conversation erased (`conversation_erased.v1`), kept forever: a room can no
longer be created for that id. `rooms.erased_at` marks a room scrubbed of its user id, its metadata (the
instructions and user id the agent read) and its participants; a participant webhook that arrives later
stores and publishes nothing.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "rooms"


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.add_column("rooms", sa.Column("erased_at", sa.DateTime(timezone=True)), schema=S)
    # The erasure finds a conversation's rooms by id; without this it would scan every room.
    op.create_index("ix_rooms_conversation", "rooms", ["conversation_id"], schema=S)


def downgrade() -> None:
    op.drop_index("ix_rooms_conversation", "rooms", schema=S)
    op.drop_column("rooms", "erased_at", schema=S)
    op.drop_table("erasures", schema=S)
