"""Turns no longer carry a foreign key to their session.

The per-row referential check was a fifth of PostgreSQL's work per inserted turn. The write path checks once per batch, in the same transaction, that
every session it relies on exists (`SqlHistoryStore`), which is all the key was used for: turns are only
written by this service, and only after their session row.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "history"


def upgrade() -> None:
    op.drop_constraint("turns_session_id_fkey", "turns", schema=S, type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key(
        "turns_session_id_fkey", "turns", "sessions", ["session_id"], ["id"], source_schema=S, referent_schema=S
    )
