"""What insights does with a session, wired to nothing in particular: a `session_ended` to analyse, or a
session history holds to analyse again. Publishing and reading history come in as callables and Protocols."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
from opentelemetry import metrics

import parley_contracts as c
from parley_insights import prices
from parley_insights.analysis import Analyser, Line, Schema, SessionInput, analyse

Publish = Callable[[c.Event], Awaitable[None]]
# A fixed namespace: an analysis has one event id per session_ended (or per revision asked for again), so a
# redelivered session_ended publishes what JetStream's de-duplication drops, and history keeps one result anyway.
ANALYSIS_IDS = uuid.UUID("6f1d3c52-8d5e-4a57-9a1c-6f0b8f4f2b11")

COST = metrics.get_meter("parley.insights").create_counter(
    "parley.insights.cost", description="What the analysed sessions cost, by component, provider and model"
)
ANALYSES = metrics.get_meter("parley.insights").create_counter(
    "parley.insights.analyses", description="Sessions analysed, by outcome (ok, failed)"
)


class SessionSource(Protocol):
    """Where a session is read again (history's API)."""

    async def session(self, session_id: str) -> dict[str, Any] | None: ...


class UnknownSession(LookupError):
    pass


@dataclass
class Insights:
    analyser: Analyser
    schemas: dict[str, Schema]
    default_schema: str
    table: prices.PriceTable
    publish: Publish
    now: Callable[[], datetime] = c.utcnow
    transport: tuple[str, str] | None = None
    published: list[c.SessionAnalyzed] = field(default_factory=list)  # the last few, for tests and logs

    async def analyse(self, session: SessionInput, revision: int, source: str = "") -> c.SessionAnalyzed:
        """Analyse and publish; `source` tells apart analyses of one revision made from different inputs (the
        agent's own end of a session and the one history made for it when the agent was lost)."""
        event_id = uuid.uuid5(ANALYSIS_IDS, f"{session.session_id}/{revision}/{source}")
        found = await analyse(
            session, self.analyser, self.schemas, self.default_schema, self.table,
            revision=revision, event_id=event_id, now=self.now(), transport=self.transport,
        )  # fmt: skip
        await self.publish(found)
        ANALYSES.add(1, {"status": found.status})
        for item in found.cost.items if found.cost else []:
            labels = {"component": item.component, "provider": item.provider, "model": item.model}
            COST.add(item.amount, {**labels, "currency": found.cost.currency if found.cost else ""})
        self.published = [*self.published[-9:], found]
        return found

    async def on_session_ended(self, ended: c.SessionEnded) -> c.SessionAnalyzed:
        return await self.analyse(SessionInput.of(ended), revision=1, source=str(ended.event_id))

    async def again(self, session_id: str, history: SessionSource) -> tuple[SessionInput, int]:
        """What a new analysis of a stored session reads, and its revision (one past the stored analysis)."""
        detail = await history.session(session_id)
        if detail is None:
            raise UnknownSession(session_id)
        return from_history(detail)


def from_history(detail: dict[str, Any]) -> tuple[SessionInput, int]:
    """A session as history serves it (`GET /v1/sessions/{id}`), as an analysis reads it. History keeps no
    participants: the caller's minutes are the previous analysis's, or the session's length."""
    session, previous = detail["session"], detail.get("analysis") or {}
    started = datetime.fromisoformat(session["started_at"])
    ended = datetime.fromisoformat(session["ended_at"] or session["started_at"])
    caller = c.agent.ParticipantSummary(identity="caller", kind="standard", joined_at=started, left_at=ended)
    usage = msgspec.convert(session["usage"], c.Usage) if session.get("usage") else None
    found = SessionInput(
        conversation_id=session["conversation_id"], session_id=session["id"], started_at=started, ended_at=ended,
        reason=session.get("end_reason") or "unknown", usage=usage, participants=[caller],
        lines=[Line(t["role"], t["text"], t.get("agent")) for t in detail.get("turns", [])],
        schema=previous.get("data_schema"),
    )  # fmt: skip
    return found, int(previous.get("revision", 0)) + 1
