"""What the history service does with conversation events, independent of NATS and of SQL.

`plan()` folds a batch of events (any order, duplicates allowed) into the rows to upsert; `persist()`
hands that plan to the store, which writes it in one transaction. Every step is idempotent, so
redelivery, duplicates, and turns arriving before their `session_started` or after their
`session_ended` all converge on the same state.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from parley_contracts import (
    AGENT_LOST,
    AgentHandoff,
    Event,
    SessionAnalyzed,
    SessionEnded,
    SessionStarted,
    TurnCompleted,
)


@dataclass
class ConversationRow:
    id: str
    user_id: str | None
    first_at: datetime
    last_at: datetime


@dataclass
class SessionRow:
    id: str
    conversation_id: str
    room_name: str | None = None
    room_sid: str | None = None
    agent_name: str | None = None
    user_id: str | None = None
    started_at: datetime | None = None
    metadata: dict[str, str] | None = None
    resumed_from: str | None = None


@dataclass
class WritePlan:
    conversations: dict[str, ConversationRow] = field(default_factory=dict)
    sessions: dict[str, SessionRow] = field(default_factory=dict)
    ends: dict[str, SessionEnded] = field(default_factory=dict)
    turns: dict[UUID, TurnCompleted] = field(default_factory=dict)
    handoffs: dict[UUID, AgentHandoff] = field(default_factory=dict)
    analyses: dict[str, SessionAnalyzed] = field(default_factory=dict)  # by session: the newest revision

    @property
    def empty(self) -> bool:
        return not self.conversations


class HistoryStore(Protocol):
    async def apply(self, plan: WritePlan) -> None:
        """Write the plan atomically (all or nothing)."""

    async def note_late(self, conversation_ids: Collection[str]) -> None:
        """Events of these conversations arrived that history does not store (participants, rooms,
        recordings): if a conversation was erased, they are in the stream again and must be purged."""


def _touch(plan: WritePlan, event: Event, user_id: str | None = None) -> None:
    row = plan.conversations.get(event.conversation_id)
    at = event.occurred_at
    if row is None:
        plan.conversations[event.conversation_id] = ConversationRow(event.conversation_id, user_id, at, at)
        return
    row.first_at, row.last_at = min(row.first_at, at), max(row.last_at, at)
    row.user_id = row.user_id or user_id


def plan(events: Sequence[Event]) -> WritePlan:
    """Fold a batch into rows. Events of other types are ignored (the consumer acks them unread)."""
    p = WritePlan()
    for event in events:
        if isinstance(event, SessionStarted):
            _touch(p, event, event.user_id)
            p.sessions[event.session_id] = SessionRow(
                id=event.session_id,
                conversation_id=event.conversation_id,
                room_name=event.room_name,
                room_sid=event.room_sid,
                agent_name=event.agent_name,
                user_id=event.user_id,
                started_at=event.started_at,
                metadata=event.metadata,
                resumed_from=event.resumed_from,
            )
        elif isinstance(event, TurnCompleted | SessionEnded | AgentHandoff | SessionAnalyzed):
            _touch(p, event)
            if event.session_id not in p.sessions:  # (a row per turn would be built and thrown away)
                p.sessions[event.session_id] = SessionRow(event.session_id, event.conversation_id)
            if isinstance(event, TurnCompleted):
                p.turns.setdefault(event.event_id, event)
            elif isinstance(event, AgentHandoff):
                p.handoffs.setdefault(event.event_id, event)
            elif isinstance(event, SessionAnalyzed):
                _keep_newest(p.analyses, event)
            elif not (event.reason == AGENT_LOST and event.session_id in p.ends):
                p.ends[event.session_id] = event  # the end history made for a lost agent never replaces its own
    return p


def _keep_newest(analyses: dict[str, SessionAnalyzed], event: SessionAnalyzed) -> None:
    held = analyses.get(event.session_id)
    if held is None or (event.revision, event.analyzed_at) > (held.revision, held.analyzed_at):
        analyses[event.session_id] = event


async def persist(events: Sequence[Event], store: HistoryStore) -> None:
    """Persist one batch of events. Safe to call again with the same events."""
    p = plan(events)
    if not p.empty:
        await store.apply(p)
