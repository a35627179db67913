"""Which agent spoke each turn, its words' timings, and the handoffs between a session's agents.

A session may pass from one agent to another (a receptionist to a booking agent): each turn names its agent,
and each handoff (`agent_handoff.v1`) is a row of its session, deleted with it (erasure, retention). A caller's
turn keeps its words' timings (`turn_completed.v1.words`) where the speech recognizer gave them.

Revision ID: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE history.turns ADD COLUMN agent text, ADD COLUMN words jsonb")
    op.execute("""
        CREATE TABLE history.handoffs (
            event_id uuid PRIMARY KEY,
            conversation_id text COLLATE "C" NOT NULL,
            session_id text COLLATE "C" NOT NULL REFERENCES history.sessions (id) ON DELETE CASCADE,
            from_agent text,
            to_agent text NOT NULL,
            reason text,
            at timestamptz NOT NULL
        )
    """)
    op.execute("CREATE INDEX ix_handoffs_session ON history.handoffs (session_id, at)")
    op.execute("CREATE INDEX ix_handoffs_conversation ON history.handoffs (conversation_id)")


def downgrade() -> None:
    op.execute("DROP TABLE history.handoffs")
    op.execute("ALTER TABLE history.turns DROP COLUMN agent, DROP COLUMN words")
