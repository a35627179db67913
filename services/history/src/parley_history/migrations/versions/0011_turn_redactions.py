"""What the agent removed from each turn's text before it left the call (`turn_completed.v1.redactions`): the
kind of personal data and where its mask is, never the value.

Revision ID: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE history.turns ADD COLUMN redactions jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE history.turns DROP COLUMN redactions")
