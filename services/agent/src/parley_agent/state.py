"""The call's in-memory state, as in the seed design: history, participants, start time, turn counter.

A plain class with no I/O and no framework types, so it is unit-tested directly. Memory is bounded:
past `max_messages` the oldest messages leave memory (each was already published as its own
`turn_completed`), and the end-of-session summary keeps the newest messages that fit `max_summary_bytes`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from parley_contracts import SUMMARY_MAX_BYTES, newest_that_fit

Role = Literal["user", "assistant"]


@dataclass(slots=True)
class ParticipantState:
    identity: str
    kind: str
    joined_at: datetime
    left_at: datetime | None = None
    metadata: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Message:
    seq: int
    role: Role
    text: str
    at: datetime
    interrupted: bool = False
    agent: str | None = None


@dataclass(slots=True)
class Handoff:
    from_agent: str | None
    to_agent: str
    reason: str | None
    at: datetime


@dataclass
class CallState:
    conversation_id: str
    session_id: str
    room_name: str
    session_start: datetime
    user_id: str | None = None
    max_messages: int = 5000
    conversation_history: deque[Message] = field(default_factory=deque)
    participant_states: dict[str, ParticipantState] = field(default_factory=dict)
    turn_count: int = 0
    dropped_messages: int = 0
    current_agent: str | None = None  # the agent that has the conversation now (handoffs change it)
    analysis_schema: str | None = None  # the room's choice of analysis, passed on in session_ended
    handoffs: list[Handoff] = field(default_factory=list)

    def add_message(self, role: Role, text: str, at: datetime, *, interrupted: bool = False) -> Message:
        """Record a final user or assistant message; it gets the next `seq` (1, 2, 3...)."""
        self.turn_count += 1
        message = Message(self.turn_count, role, text, at, interrupted, self.current_agent)
        self.conversation_history.append(message)
        if len(self.conversation_history) > self.max_messages:
            self.conversation_history.popleft()
            self.dropped_messages += 1
        return message

    def participant_joined(
        self,
        identity: str,
        kind: str,
        at: datetime,
        metadata: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> bool:
        """True when this is news (a first join, or a rejoin after leaving)."""
        current = self.participant_states.get(identity)
        if current is not None and current.left_at is None:
            return False
        self.participant_states[identity] = ParticipantState(identity, kind, at, None, metadata, dict(attributes or {}))
        return True

    def hand_off(self, to_agent: str, reason: str | None, at: datetime) -> Handoff:
        """The conversation passes to another agent: later messages are its."""
        handoff = Handoff(self.current_agent, to_agent, reason, at)
        self.handoffs.append(handoff)
        self.current_agent = to_agent
        return handoff

    def callers(self) -> list[ParticipantState]:
        """Who the agent talks to: participants present that are neither agents nor recorders."""
        return [p for p in self.participant_states.values() if p.left_at is None and p.kind not in ("agent", "egress")]

    def participant_left(self, identity: str, at: datetime) -> ParticipantState | None:
        """The participant's state if it was present, else None (unknown or already gone)."""
        current = self.participant_states.get(identity)
        if current is None or current.left_at is not None:
            return None
        current.left_at = at
        return current

    def still_present(self) -> list[ParticipantState]:
        return [p for p in self.participant_states.values() if p.left_at is None]

    def summary_messages(self, max_summary_bytes: int = SUMMARY_MAX_BYTES) -> tuple[list[Message], bool]:
        """The newest messages whose text fits the byte budget, oldest first; and whether any were left out."""
        history = list(self.conversation_history)
        kept = history[len(history) - newest_that_fit([m.text for m in history], max_summary_bytes) :]
        truncated = self.dropped_messages > 0 or len(kept) < len(history)
        return kept, truncated
