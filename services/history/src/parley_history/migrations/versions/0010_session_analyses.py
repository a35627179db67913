"""Each session's analysis and cost (`session_analyzed.v1`, from insights): one row per session, the highest
revision kept, deleted with its session (erasure, retention); and sessions by start, for usage over a time range.

Revision ID: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE history.session_analyses (
            session_id text COLLATE "C" PRIMARY KEY REFERENCES history.sessions (id) ON DELETE CASCADE,
            conversation_id text COLLATE "C" NOT NULL,
            event_id uuid NOT NULL,
            revision integer NOT NULL,
            status text NOT NULL,
            analyzer text NOT NULL,
            summary text,
            data_schema text,
            data jsonb,
            evaluation jsonb,
            failure text,
            currency text,
            cost_total double precision,
            cost jsonb,
            analyzed_at timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX ix_session_analyses_conversation ON history.session_analyses (conversation_id)")
    op.execute("CREATE INDEX ix_sessions_started ON history.sessions (started_at)")  # GET /v1/usage's range


def downgrade() -> None:
    op.execute("DROP INDEX history.ix_sessions_started")
    op.execute("DROP TABLE history.session_analyses")
