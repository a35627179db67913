"""Transcripts written from the end history publishes for a lost agent are provisional.

The agent's own `session_ended`, should it still arrive (replayed from a spill file), replaces them: the
row takes the agent's transcript (stored under the final key) and the provisional object is deleted.
Existing rows are final.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "recordings",
        sa.Column("provisional", sa.Boolean, nullable=False, server_default=sa.false()),
        schema="recordings",
    )


def downgrade() -> None:
    op.drop_column("recordings", "provisional", schema="recordings")
