"""An index for retention: sessions by when they ended (or started, for one whose end never came).

Retention (`parley_history.retention`) finds the sessions older than its cutoff through this index; sessions
are written once or twice per call, so it costs the write path nothing measurable. Retention is also the
first thing that deletes turns: migration 0003's slower autovacuum of `turns` still keeps up, since an
hourly pass deletes at most an hour's worth of the oldest rows.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_sessions_last_time ON history.sessions ((COALESCE(ended_at, started_at)), id)")


def downgrade() -> None:
    op.execute("DROP INDEX history.ix_sessions_last_time")
