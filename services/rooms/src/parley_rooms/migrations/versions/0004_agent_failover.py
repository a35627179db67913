"""What agent failover needs: how often each room's agent was dispatched again, and agents that left.

A self-hosted LiveKit server does not hand the job of a lost agent worker to another one, so the caller
would wait in a silent room. `failover` dispatches the agent again; the two columns bound how often per
room and stop a second dispatch for the same departure. The partial index finds agents that left
recently without reading the participants of every room.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE rooms.rooms ADD COLUMN agent_redispatches integer NOT NULL DEFAULT 0,"
        " ADD COLUMN agent_redispatched_at timestamptz"
    )
    op.execute("CREATE INDEX ix_participants_agent_left ON rooms.participants (left_at) WHERE kind = 'agent'")


def downgrade() -> None:
    op.execute("DROP INDEX rooms.ix_participants_agent_left")
    op.execute("ALTER TABLE rooms.rooms DROP COLUMN agent_redispatched_at, DROP COLUMN agent_redispatches")
