"""The insights use case with an in-memory publish and scripted analysers: what each session yields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from parley_insights import prices
from parley_insights.analysis import Analyser, AnalysisFailed, Line, Outcome, Schema, load_schemas
from parley_insights.offline import NAME as OFFLINE
from parley_insights.offline import OfflineAnalyser
from parley_insights.service import Insights, from_history

import parley_contracts as c

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
GOOD = Outcome(summary="Booked.", data={"intent": "book"}, evaluation=c.Evaluation(passed=True, score=1.0))


class Scripted:
    name = "scripted-analyser"

    def __init__(self, *outcomes: Outcome | Exception) -> None:
        self.outcomes = list(outcomes)
        self.seen: list[tuple[list[Line], str]] = []

    async def analyse(self, lines: list[Line], schema: Schema) -> Outcome:
        self.seen.append((lines, schema.name))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _ended(*texts: str, schema: str | None = None) -> c.SessionEnded:
    roles = ["user", "assistant"]
    messages = [c.MessageSummary(seq=n + 1, role=roles[n % 2], text=t, at=T0) for n, t in enumerate(texts)]  # type: ignore[arg-type]
    usage = c.Usage(items=[c.UsageItem(component="llm", provider="openai", model="gpt-4.1-mini", output_tokens=1000)])
    return c.SessionEnded(
        event_id=c.new_event_id(), occurred_at=T0, conversation_id="c1", session_id="s1", producer="agent",
        reason="participant_disconnected", started_at=T0, ended_at=T0 + timedelta(minutes=2), duration_seconds=120,
        turn_count=len(texts), messages=messages, usage=usage, analysis_schema=schema,
    )  # fmt: skip


def _insights(analyser: Analyser, published: list[c.Event]) -> Insights:
    async def publish(event: c.Event) -> None:
        published.append(event)

    schemas = {**load_schemas(), "survey": Schema(name="survey", schema={"type": "object"}, rubric="")}
    return Insights(analyser=analyser, schemas=schemas, default_schema="call", table=prices.load(), publish=publish,
                    now=lambda: T0 + timedelta(minutes=3))  # fmt: skip


async def test_a_session_yields_its_analysis_with_the_cost_and_one_event_id_per_end() -> None:
    published: list[c.Event] = []
    insights = _insights(Scripted(GOOD, GOOD, GOOD), published)
    ended = _ended("I'd like to book a table", "Done")
    first = await insights.on_session_ended(ended)
    again = await insights.on_session_ended(ended)  # redelivered
    assert first.event_id == again.event_id and published == [first, again]  # JetStream drops the second
    assert (first.status, first.summary, first.data_schema, first.revision) == ("ok", "Booked.", "call", 1)
    assert first.cost is not None and first.cost.total == pytest.approx(1000 * 1.6e-6)
    other_end = await insights.on_session_ended(msgspec.structs.replace(ended, event_id=c.new_event_id()))
    assert other_end.event_id != first.event_id  # history's end for a lost agent is analysed on its own


async def test_a_failed_analysis_is_published_as_failed_with_its_reason_and_cost() -> None:
    published: list[c.Event] = []
    found = await _insights(Scripted(AnalysisFailed("the model never fit")), published).on_session_ended(
        _ended("hello", "hi")
    )
    assert (found.status, found.failure, found.summary) == ("failed", "the model never fit", None)
    assert found.cost is not None and found.cost.items


async def test_a_silent_caller_is_not_sent_to_the_model() -> None:
    analyser = Scripted()
    found = await _insights(analyser, []).on_session_ended(_ended())
    assert found.status == "failed" and "said nothing" in (found.failure or "") and analyser.seen == []


async def test_the_room_chooses_the_schema_and_an_unknown_one_falls_back_to_the_default() -> None:
    analyser = Scripted(GOOD, GOOD)
    insights = _insights(analyser, [])
    await insights.on_session_ended(_ended("hello", schema="survey"))
    await insights.on_session_ended(_ended("hello", schema="no-such-schema"))
    assert [name for _, name in analyser.seen] == ["survey", "call"]


async def test_the_offline_analyser_says_what_it_is_and_fills_the_schema_by_rule() -> None:
    found = await _insights(OfflineAnalyser(), []).on_session_ended(
        _ended("I want to reschedule my appointment", "Which day?", "Friday please", "Done, Friday at nine.")
    )
    assert found.status == "ok" and found.analyzer == OFFLINE
    assert found.data == {"intent": "reschedule", "resolved": True, "follow_up_needed": True, "caller_name": None}
    assert found.evaluation == c.Evaluation(
        passed=True, score=1.0, reason=f"{OFFLINE} judges by one rule: every caller turn got an answer (2 of 2)."
    )
    assert "reschedule my appointment" in (found.summary or "")


async def test_a_stored_session_is_analysed_again_at_the_next_revision() -> None:
    detail = {
        "session": {"id": "s1", "conversation_id": "c1", "started_at": T0.isoformat(),
                    "ended_at": (T0 + timedelta(minutes=1)).isoformat(), "end_reason": "participant_disconnected",
                    "usage": {"items": [{"component": "stt", "provider": "deepgram", "model": "nova-3",
                                         "audio_seconds": 60.0}]}},
        "turns": [{"role": "user", "text": "cancel please"}, {"role": "assistant", "text": "Cancelled."}],
        "analysis": {"revision": 2, "data_schema": "survey"},
    }  # fmt: skip
    session, revision = from_history(detail)
    assert revision == 3 and session.schema == "survey"
    found = await _insights(Scripted(GOOD), []).analyse(session, revision)
    assert found.revision == 3 and found.cost is not None and found.cost.total == pytest.approx(0.0077)
