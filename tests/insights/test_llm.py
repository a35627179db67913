"""The analysing model's client against a local OpenAI-compatible stand-in: structured output checked against the
schema, a wrong answer sent back with what was wrong, and a model that never fits recorded as failed."""

from __future__ import annotations

import json

import httpx
import pytest
from parley_insights.analysis import AnalysisFailed, Line, load_schemas
from parley_insights.llm import LlmAnalyser, ModelUnavailable

from parley_runtime.messaging.handling import TransientError
from tests.support.llm_standin import LlmStandIn, Reply, Slow
from tests.support.serving import served

LINES = [Line("user", "I need to cancel my booking for Friday"), Line("assistant", "It is cancelled.")]
SCHEMA = load_schemas()["call"]
VALID = json.dumps({
    "summary": "The caller cancelled Friday's booking.",
    "data": {"intent": "cancel", "resolved": True, "follow_up_needed": False, "caller_name": None},
    "evaluation": {"passed": True, "score": 0.9, "reason": "Cancelled at once."},
})  # fmt: skip
OFF_SCHEMA = json.dumps({"summary": "x", "data": {"intent": "dance"}, "evaluation": {"passed": True}})


async def _analyse(*replies: Reply, timeout: float = 5.0) -> tuple[LlmStandIn, object]:
    stand_in = LlmStandIn(list(replies))
    async with served(stand_in.app()) as url, httpx.AsyncClient(base_url=f"{url}/v1/") as client:
        analyser = LlmAnalyser(client, model="stand-in-1", attempts=3, timeout=timeout)
        try:
            return stand_in, await analyser.analyse(LINES, SCHEMA)
        except (AnalysisFailed, TransientError) as exc:
            return stand_in, exc


async def test_a_valid_answer_is_taken_and_the_request_asks_for_the_schema() -> None:
    stand_in, outcome = await _analyse(VALID)
    assert not isinstance(outcome, Exception)
    assert outcome.data["intent"] == "cancel" and outcome.evaluation.score == 0.9  # type: ignore[attr-defined]
    [request] = stand_in.requests
    assert request["model"] == "stand-in-1" and request["temperature"] == 0
    wanted = request["response_format"]["json_schema"]["schema"]
    assert wanted["properties"]["data"] == SCHEMA.schema
    assert "Caller: I need to cancel my booking for Friday" in request["messages"][1]["content"]


async def test_an_answer_off_the_schema_is_sent_back_with_what_was_wrong_then_taken() -> None:
    stand_in, outcome = await _analyse("not json at all", OFF_SCHEMA, VALID)
    assert not isinstance(outcome, Exception) and len(stand_in.requests) == 3
    second, third = stand_in.requests[1]["messages"], stand_in.requests[2]["messages"]
    assert second[-2] == {"role": "assistant", "content": "not json at all"}
    assert "not JSON" in second[-1]["content"]
    assert "does not fit the schema" in third[-1]["content"] and "dance" in third[-1]["content"]


async def test_a_model_that_never_fits_is_a_failed_analysis_with_the_reason() -> None:
    stand_in, outcome = await _analyse(OFF_SCHEMA)
    assert isinstance(outcome, AnalysisFailed) and len(stand_in.requests) == 3
    assert "after 3 attempts" in str(outcome) and "'dance' is not one of" in str(outcome)


async def test_a_slow_model_times_out_each_attempt_and_fails() -> None:
    stand_in, outcome = await _analyse(Slow(2.0, VALID), timeout=0.3)
    assert isinstance(outcome, AnalysisFailed) and "did not answer within 0.3 s" in str(outcome)
    assert len(stand_in.requests) == 3


async def test_a_slow_model_within_the_timeout_is_waited_for() -> None:
    _, outcome = await _analyse(Slow(0.2, VALID), timeout=5)
    assert not isinstance(outcome, Exception)


async def test_a_server_that_is_down_or_overloaded_is_transient_not_a_failure() -> None:
    _, overloaded = await _analyse(503)
    assert isinstance(overloaded, ModelUnavailable)
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9/v1/") as client:  # nothing listens on port 9
        with pytest.raises(ModelUnavailable):
            await LlmAnalyser(client, model="m").analyse(LINES, SCHEMA)
