"""Endpoints, messages and their attempts, call reports, erased conversations.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE webhooks.endpoints (
            id text COLLATE "C" PRIMARY KEY,
            url text NOT NULL,
            event_types text[] NOT NULL,
            description text NOT NULL DEFAULT '',
            secret bytea NOT NULL,
            previous_secret bytea,
            previous_until timestamptz,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            failing_since timestamptz,
            disabled_at timestamptz,
            disabled_reason text
        )
    """)
    op.execute("""
        CREATE TABLE webhooks.messages (
            id text COLLATE "C" PRIMARY KEY,
            endpoint_id text COLLATE "C" NOT NULL REFERENCES webhooks.endpoints (id) ON DELETE CASCADE,
            event_type text NOT NULL,
            event_id uuid,
            conversation_id text COLLATE "C",
            body bytea NOT NULL,
            created_at timestamptz NOT NULL,
            status text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            lease_until timestamptz,
            delivered_at timestamptz,
            last_error text
        )
    """)
    # What the dispatcher claims (per endpoint, earliest due first), and what is in flight (leased) per endpoint.
    op.execute(
        "CREATE INDEX ix_messages_due ON webhooks.messages (endpoint_id, next_attempt_at) WHERE status = 'pending'"
    )
    op.execute("CREATE INDEX ix_messages_leased ON webhooks.messages (endpoint_id) WHERE lease_until IS NOT NULL")
    op.execute("CREATE INDEX ix_messages_endpoint ON webhooks.messages (endpoint_id, created_at)")
    op.execute("CREATE INDEX ix_messages_conversation ON webhooks.messages (conversation_id)")
    op.execute("""
        CREATE TABLE webhooks.attempts (
            id bigserial PRIMARY KEY,
            message_id text COLLATE "C" NOT NULL REFERENCES webhooks.messages (id) ON DELETE CASCADE,
            at timestamptz NOT NULL,
            status_code integer,
            duration_ms double precision NOT NULL,
            error text
        )
    """)
    op.execute("CREATE INDEX ix_attempts_message ON webhooks.attempts (message_id, at)")
    op.execute("""
        CREATE TABLE webhooks.reports (
            session_id text COLLATE "C" PRIMARY KEY,
            conversation_id text COLLATE "C" NOT NULL,
            ended jsonb,
            recordings jsonb NOT NULL DEFAULT '[]',
            analysis jsonb,
            latencies jsonb NOT NULL DEFAULT '{}',
            due_at timestamptz,
            sent_at timestamptz
        )
    """)
    op.execute("CREATE INDEX ix_reports_due ON webhooks.reports (due_at) WHERE sent_at IS NULL")
    op.execute("CREATE INDEX ix_reports_conversation ON webhooks.reports (conversation_id)")
    op.execute("""
        CREATE TABLE webhooks.erased (
            conversation_id text COLLATE "C" PRIMARY KEY,
            at timestamptz NOT NULL
        )
    """)


def downgrade() -> None:
    for table in ("erased", "reports", "attempts", "messages", "endpoints"):
        op.execute(f"DROP TABLE webhooks.{table}")
