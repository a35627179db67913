"""An in-memory `HistoryStore` with the SQL store's rules: what `handlers.persist` relies on, without Postgres."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from uuid import UUID

import parley_contracts as c
from parley_history.handlers import ConversationRow, SessionRow, WritePlan


@dataclass
class StoredSession:
    row: SessionRow
    end: c.SessionEnded | None = None


@dataclass
class MemoryHistoryStore:
    conversations: dict[str, ConversationRow] = field(default_factory=dict)
    sessions: dict[str, StoredSession] = field(default_factory=dict)
    turns: dict[tuple[str, int], c.TurnCompleted] = field(default_factory=dict)
    event_ids: set[UUID] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    late: set[str] = field(default_factory=set)
    analyses: dict[str, c.SessionAnalyzed] = field(default_factory=dict)
    writes: int = 0

    async def apply(self, plan: WritePlan) -> None:
        self.writes += 1
        for conv in plan.conversations.values():
            if conv.id in self.erased:
                continue
            old = self.conversations.get(conv.id)
            self.conversations[conv.id] = (
                replace(conv)
                if old is None
                else replace(
                    old,
                    user_id=old.user_id or conv.user_id,
                    first_at=min(old.first_at, conv.first_at),
                    last_at=max(old.last_at, conv.last_at),
                )
            )
        for row in plan.sessions.values():
            if row.conversation_id in self.erased:
                continue
            stored = self.sessions.setdefault(row.id, StoredSession(replace(row)))
            if stored.row.room_name is None and row.room_name is not None:  # the start arrives after a turn
                stored.row = replace(row, user_id=row.user_id or stored.row.user_id)
        for end in plan.ends.values():
            ending = self.sessions.get(end.session_id)
            if ending is not None and (end.reason != c.AGENT_LOST or ending.end is None):
                ending.end = end  # never history's end over the agent's own
        for turn in plan.turns.values():
            key = (turn.session_id, turn.seq)
            if turn.conversation_id in self.erased or key in self.turns or turn.event_id in self.event_ids:
                continue
            self.turns[key] = turn
            self.event_ids.add(turn.event_id)

        for analysis in plan.analyses.values():
            held = self.analyses.get(analysis.session_id)
            fresher = held is None or (analysis.revision, analysis.analyzed_at) >= (held.revision, held.analyzed_at)
            if analysis.conversation_id not in self.erased and fresher:
                self.analyses[analysis.session_id] = analysis

    async def note_late(self, conversation_ids: Collection[str]) -> None:
        self.late |= set(conversation_ids) & self.erased
