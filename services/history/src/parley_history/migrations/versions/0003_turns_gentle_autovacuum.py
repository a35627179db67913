"""Autovacuum works through `turns` at a fifth of the default I/O rate.

`turns` is insert-mostly: its autovacuum runs are triggered by inserts and mostly set pages all-visible.
After a checkpoint each such page costs a full-page image in the WAL. At the default pace (2 ms of sleep
per 200 cost units) one run over 520,000 turns wrote 190 MB of WAL in 6 s, and every COMMIT of the turns
being stored meanwhile waited behind it: emit-to-row p99 at 1,000 turns/s went from 16 to 38 ms, and to
740 ms in one run in three. At 10 ms the same run spreads that WAL over about 30 s and p99 stays near 19 ms
(bench probes on the 2-core VM). Vacuuming this table more slowly is harmless: the service never updates or
deletes turns, so its vacuum only sets visibility and freezes, and a slower pass still finishes within the
minute for a day's worth of new pages at that rate.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE history.turns SET (autovacuum_vacuum_cost_delay = 10)")


def downgrade() -> None:
    op.execute("ALTER TABLE history.turns RESET (autovacuum_vacuum_cost_delay)")
