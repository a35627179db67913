"""The session an agent session resumed (`session_started.resumed_from`), so history ends the lost one at once.

LiveKit hands a job whose worker was lost to another worker; the new attempt is a session of its own that
names the earlier one. That earlier session's agent is gone for sure, so history need not wait out
`HISTORY_SESSION_TIMEOUT_MINUTES` before ending it (`lost_sessions`). The partial index holds resumed
sessions only (a failover's worth), for the lost-session search's look-up.

Revision ID: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('ALTER TABLE history.sessions ADD COLUMN resumed_from text COLLATE "C"')
    op.execute("CREATE INDEX ix_sessions_resumed ON history.sessions (resumed_from) WHERE resumed_from IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX history.ix_sessions_resumed")
    op.execute("ALTER TABLE history.sessions DROP COLUMN resumed_from")
