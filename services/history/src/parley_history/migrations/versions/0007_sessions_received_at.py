"""When each session reached history, and an index of the sessions still open, for `lost_sessions`.

A call whose agent is killed outright never sends `session_ended`. History closes such a session once
nothing of it has arrived for a while; `received_at` (when its row was written: never updated, so the
write path pays nothing more) keeps a backlog of old events replayed today from looking abandoned. The
partial index holds open sessions only, a few per live call, so the periodic search never scans the table.
Existing rows get the time of the migration (a constant default: no rewrite of the table).

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE history.sessions ADD COLUMN received_at timestamptz NOT NULL DEFAULT now()")
    op.execute("CREATE INDEX ix_sessions_open ON history.sessions (received_at) WHERE ended_at IS NULL")


def downgrade() -> None:
    op.execute("DROP INDEX history.ix_sessions_open")
    op.execute("ALTER TABLE history.sessions DROP COLUMN received_at")
