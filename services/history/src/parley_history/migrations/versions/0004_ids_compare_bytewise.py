"""Ids compare byte by byte (collation "C"), not by the database's language rules.

Conversation, session and user ids are opaque strings: nothing sorts them for a reader, they only need a
stable order for the indexes and the cursors. Under the database's default collation every comparison in
those indexes goes through the C library's `strcoll`: even for `C.UTF-8`, which PostgreSQL does not treat
as plain "C", and more so for `en_US.UTF-8`, the usual default of a managed Postgres. With "C" it is a
`memcmp`. Measured on the benchmark VM (`C.UTF-8`, 5 x 100,000 turns by COPY): PostgreSQL 23.7 -> 22.4 us
of CPU per stored turn. For ids of ASCII or UTF-8 text the order itself does not change under `C.UTF-8`.

Changing a column's collation does not rewrite the table, but it rebuilds the indexes on the column under
an exclusive lock: while this runs on a large table, history stores nothing and its consumer's messages
wait in JetStream (none is lost).

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = {
    "conversations": ["id", "user_id"],
    "sessions": ["id", "conversation_id", "user_id"],
    "turns": ["session_id", "conversation_id"],
}


def _collate(collation: str) -> None:
    for table, columns in COLUMNS.items():
        changes = ", ".join(f'ALTER COLUMN {c} TYPE text COLLATE "{collation}"' for c in columns)
        op.execute(f"ALTER TABLE history.{table} {changes}")


def upgrade() -> None:
    _collate("C")


def downgrade() -> None:
    _collate("default")
