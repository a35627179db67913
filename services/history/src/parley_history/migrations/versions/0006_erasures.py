"""Erasure on request: a tombstone per erased conversation, and the lock that keeps writers out.

`erasures` holds one row per erased conversation id, forever: the id is retired, so events that arrive
later (a call still running, a redelivery, a replayed dead letter) are dropped instead of bringing the
conversation back. The row also tracks the erasure's propagation: `published_at` once
`conversation_erased.v1` is in JetStream, `purged_at` as of when the conversation's events were purged
from the VOICE and DLQ streams, and `late_event_at` when the consumer last dropped one of its events: a
late event newer than the purge is in the stream again, so the conversation is purged again.

`hold_conversations(ids)` is what every batch of the consumer runs first in its transaction: a shared
advisory lock per conversation, then the erased ones among them. An erasure takes the same lock
exclusively, so a batch either commits before the erasure deletes (and its rows are deleted with the
rest) or sees the tombstone (and writes nothing for that conversation). It is a plpgsql function so that
the check runs after the lock is granted with a fresh snapshot (each query of a volatile function takes
one), in a single round trip.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The advisory-lock key space is shared by everything using the database: a seed of our own keeps
# Parley's keys apart from other users' small integers.
LOCK_SEED = 0x7061726C  # "parl"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE history.erasures (
            conversation_id text COLLATE "C" PRIMARY KEY,
            event_id uuid NOT NULL,
            requested_at timestamptz NOT NULL,
            turns_deleted bigint NOT NULL DEFAULT 0,
            sessions_deleted bigint NOT NULL DEFAULT 0,
            published_at timestamptz,
            purged_at timestamptz,
            late_event_at timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX ix_erasures_unfinished ON history.erasures (requested_at)"
        " WHERE published_at IS NULL OR purged_at IS NULL OR late_event_at > purged_at"
    )
    op.execute(
        f"""
        CREATE FUNCTION history.hold_conversations(ids text[]) RETURNS SETOF text
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock_shared(k)
            FROM (SELECT DISTINCT hashtextextended(id, {LOCK_SEED}) AS k FROM unnest(ids) AS id ORDER BY 1) AS keys;
            RETURN QUERY SELECT e.conversation_id::text FROM history.erasures AS e WHERE e.conversation_id = ANY(ids);
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION history.hold_conversations(text[])")
    op.execute("DROP TABLE history.erasures")
