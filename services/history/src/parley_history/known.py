"""A bounded memory of what this replica already wrote, so the hot path skips rows that cannot change.

Entries are lower bounds of the database state ("this conversation exists and its first activity is
no later than X"), recorded only after a commit. Another replica can only move the database further,
so skipping a row the cache covers is always safe. If the database lost rows behind our back (restore,
manual delete), the store's count of the sessions a batch relies on (or a session's foreign key to its
conversation) finds it; the store then forgets everything and retries.

It remembers at most `max_entries` conversations and as many sessions (`HISTORY_KNOWN_ROWS_MAX`), the least
recently used going first: about 0.5 kB per conversation with its session, so 200,000 cost the process
about 105 MB (`python -m bench.memory_bench` measures it). A conversation it forgot costs one upsert more.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from parley_history.handlers import ConversationRow, SessionRow

ACTIVITY_GRANULARITY = timedelta(minutes=1)
DEFAULT_MAX_ENTRIES = 200_000


@dataclass
class _Conversation:
    has_user: bool
    first_at: datetime
    last_at: datetime


class KnownRows:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._sessions: OrderedDict[str, bool] = OrderedDict()  # id -> session_started applied

    def conversation_needs_write(self, row: ConversationRow) -> bool:
        known = self._conversations.get(row.id)
        return (
            known is None
            or (row.user_id is not None and not known.has_user)
            or row.first_at < known.first_at
            or row.last_at > known.last_at + ACTIVITY_GRANULARITY
        )

    def session_needs_write(self, row: SessionRow) -> bool:
        started = self._sessions.get(row.id)
        return started is None or (row.started_at is not None and not started)

    def remember(self, conversations: list[ConversationRow], sessions: list[SessionRow]) -> None:
        for c in conversations:
            known = self._conversations.pop(c.id, None)
            if known is None:
                known = _Conversation(c.user_id is not None, c.first_at, c.last_at)
            else:
                known.has_user |= c.user_id is not None
                known.first_at = min(known.first_at, c.first_at)
                known.last_at = max(known.last_at, c.last_at)
            self._conversations[c.id] = known
        for s in sessions:
            self._sessions[s.id] = self._sessions.pop(s.id, False) or s.started_at is not None
        while len(self._conversations) > self.max_entries:
            self._conversations.popitem(last=False)
        while len(self._sessions) > self.max_entries:
            self._sessions.popitem(last=False)

    def counts(self) -> tuple[int, int]:
        """How many conversations and sessions it remembers (each at most `max_entries`)."""
        return len(self._conversations), len(self._sessions)

    def forget(self) -> None:
        self._conversations.clear()
        self._sessions.clear()
