"""The use case: one ended session in, its `session_analyzed.v1` out. No NATS, no HTTP: the analyser (an LLM,
or the offline one) comes in through the `Analyser` Protocol, the prices and schemas as data."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import parley_contracts as c
from parley_insights import prices

PRODUCER = "insights"
PACKAGED_SCHEMAS = Path(__file__).parent / "data" / "schemas.json"


@dataclass(frozen=True)
class Schema:
    """What to extract from a call (a JSON Schema) and how to judge it (a rubric), under a name rooms choose by."""

    name: str
    schema: dict[str, Any]
    rubric: str
    description: str = ""


@dataclass(frozen=True)
class Line:
    role: str
    text: str
    agent: str | None = None


@dataclass(frozen=True)
class SessionInput:
    """What an analysis reads of a session: the same whether it comes from `session_ended` or from history."""

    conversation_id: str
    session_id: str
    started_at: datetime
    ended_at: datetime
    reason: str
    lines: list[Line]
    usage: c.Usage | None = None
    participants: list[c.agent.ParticipantSummary] = field(default_factory=list)
    schema: str | None = None  # the room's choice, if it made one

    @classmethod
    def of(cls, ended: c.SessionEnded) -> SessionInput:
        return cls(
            conversation_id=ended.conversation_id, session_id=ended.session_id, started_at=ended.started_at,
            ended_at=ended.ended_at, reason=ended.reason, usage=ended.usage, participants=list(ended.participants),
            lines=[Line(m.role, m.text, m.agent) for m in ended.messages], schema=ended.analysis_schema,
        )  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    summary: str
    data: dict[str, Any]
    evaluation: c.Evaluation


class AnalysisFailed(Exception):
    """The analyser gave no answer that fits: the analysis is recorded as failed, with this reason."""


class Analyser(Protocol):
    name: str

    async def analyse(self, lines: list[Line], schema: Schema) -> Outcome: ...


def load_schemas(path: Path | None = None) -> dict[str, Schema]:
    raw = json.loads((path or PACKAGED_SCHEMAS).read_text())
    return {
        name: Schema(
            name=name, schema=spec["schema"], rubric=spec.get("rubric", ""), description=spec.get("description", "")
        )
        for name, spec in raw.items()
    }


async def analyse(
    session: SessionInput,
    analyser: Analyser,
    schemas: dict[str, Schema],
    default_schema: str,
    table: prices.PriceTable,
    *,
    revision: int,
    event_id: uuid.UUID,
    now: datetime,
    transport: tuple[str, str] | None = None,
) -> c.SessionAnalyzed:
    """The session's analysis and cost. A failed analysis still carries the cost; an unknown schema name (a
    room's typo) falls back to the deployment's default, and the event names the one used."""
    schema = schemas.get(session.schema or default_schema) or schemas[default_schema]
    minutes = prices.participant_minutes(session.participants, session.ended_at)
    cost = prices.cost(session.usage, minutes, table, session.started_at, transport=transport)
    common: dict[str, Any] = {
        "event_id": event_id, "occurred_at": now, "conversation_id": session.conversation_id,
        "session_id": session.session_id, "producer": PRODUCER, "revision": revision, "analyzer": analyser.name,
        "cost": cost, "analyzed_at": now,
    }  # fmt: skip
    if not any(line.role == "user" for line in session.lines):
        return c.SessionAnalyzed(**common, status="failed", failure="the caller said nothing: nothing to analyse")
    try:
        outcome = await analyser.analyse(session.lines, schema)
    except AnalysisFailed as exc:
        return c.SessionAnalyzed(**common, status="failed", failure=str(exc)[: c.insights.ANALYSIS_TEXT_MAX])
    return c.SessionAnalyzed(
        **common, status="ok", summary=outcome.summary[: c.insights.ANALYSIS_TEXT_MAX], data_schema=schema.name,
        data=outcome.data, evaluation=outcome.evaluation,
    )  # fmt: skip
