"""Contract events for tests, with the fields a test does not care about filled in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import parley_contracts as c

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def started(conv: str, sess: str, *, user: str | None = "user-1", at: datetime = T0) -> c.SessionStarted:
    return c.SessionStarted(
        event_id=uuid4(),
        occurred_at=at,
        conversation_id=conv,
        session_id=sess,
        producer="test",
        room_name=f"room-{sess}",
        agent_name="parley-agent",
        user_id=user,
        started_at=at,
    )


def joined(conv: str, sess: str, *, at: datetime = T0) -> c.ParticipantJoined:
    """An event history does not store (it only keeps sessions and turns)."""
    return c.ParticipantJoined(
        event_id=uuid4(),
        occurred_at=at,
        conversation_id=conv,
        session_id=sess,
        producer="test",
        identity="caller",
        kind="standard",
        at=at,
    )


def turn(conv: str, sess: str, seq: int, text: str | None = None, *, at: datetime | None = None) -> c.TurnCompleted:
    return c.TurnCompleted(
        event_id=uuid4(),
        occurred_at=at or T0 + timedelta(seconds=seq),
        conversation_id=conv,
        session_id=sess,
        producer="test",
        seq=seq,
        role="user" if seq % 2 else "assistant",
        text=text if text is not None else f"turn {seq} of {sess}",
    )


def ended(conv: str, sess: str, turn_count: int, *, at: datetime | None = None) -> c.SessionEnded:
    end = at or T0 + timedelta(seconds=turn_count + 1)
    return c.SessionEnded(
        event_id=uuid4(),
        occurred_at=end,
        conversation_id=conv,
        session_id=sess,
        producer="test",
        reason="participant_disconnected",
        started_at=T0,
        ended_at=end,
        duration_seconds=(end - T0).total_seconds(),
        turn_count=turn_count,
    )


def analyzed(
    conv: str, sess: str, revision: int = 1, *, summary: str = "The caller booked a table.", total: float = 0.012
) -> c.SessionAnalyzed:
    """An analysis of a session with one cost item, as insights publishes it."""
    item = c.CostItem(
        component="llm", provider="openai", model="gpt-4.1-mini", unit="output_token",
        quantity=total / 1.6e-6, unit_price=1.6e-6, amount=total,
    )  # fmt: skip
    return c.SessionAnalyzed(
        event_id=uuid4(),
        occurred_at=T0 + timedelta(minutes=revision),
        conversation_id=conv,
        session_id=sess,
        producer="insights",
        revision=revision,
        status="ok",
        analyzer="test-analyser",
        summary=summary,
        data_schema="call",
        data={"reason": "booking"},
        evaluation=c.Evaluation(passed=True, score=0.9, reason="booked"),
        cost=c.Cost(currency="USD", total=total, items=[item], price_table="test"),
        analyzed_at=T0 + timedelta(minutes=revision),
    )
