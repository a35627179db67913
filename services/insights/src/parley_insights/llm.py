"""The analyser behind any OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, vLLM, Ollama,
llama.cpp's server): structured output, checked against the schema, asked again with what was wrong.

One request asks for the summary, the data (the deployment's JSON Schema) and the evaluation (the rubric) as one
JSON object (`response_format: json_schema`, strict where the server supports it). An answer that is not JSON or
does not fit the schema is sent back with the validation error, up to `attempts` times; then the analysis is
recorded as failed, with the last error as its reason. A server that cannot be reached is `ModelUnavailable`:
the session is analysed later (its event redelivered), not failed.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema

import parley_contracts as c
from parley_insights.analysis import AnalysisFailed, Line, Outcome, Schema
from parley_runtime.messaging.handling import TransientError

SYSTEM = """You analyse a finished phone call between a caller and a voice agent.
Answer with one JSON object: "summary" (two or three sentences: what the caller wanted and what happened),
"data" (what the call says, filled by the schema below; null where the call does not say), and "evaluation"
("passed": true or false, "score" from 0 to 1, "reason": one or two sentences), judged by this rubric:
{rubric}
The data schema: {schema}"""


class ModelUnavailable(TransientError):
    """The analysing model's server did not answer: try this session again later."""


def answer_schema(schema: Schema) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["summary", "data", "evaluation"],
        "properties": {
            "summary": {"type": "string", "maxLength": 4000},
            "data": schema.schema,
            "evaluation": {
                "type": "object",
                "additionalProperties": False,
                "required": ["passed", "score", "reason"],
                "properties": {
                    "passed": {"type": "boolean"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "reason": {"type": "string", "maxLength": 2000},
                },
            },
        },
    }


def _misfits(answer: Any, schema: dict[str, Any]) -> str:
    """Every way the answer misses the schema (the first few), each with where: what the model is told to fix."""
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(answer), key=lambda e: list(e.absolute_path))
    return "; ".join(f"{'/'.join(map(str, e.absolute_path)) or 'the answer'}: {e.message}" for e in errors[:5])


def transcript(lines: list[Line]) -> str:
    return "\n".join(f"{'Caller' if line.role == 'user' else line.agent or 'Agent'}: {line.text}" for line in lines)


class LlmAnalyser:
    def __init__(self, client: httpx.AsyncClient, *, model: str, attempts: int = 3, timeout: float = 30.0) -> None:
        self.client = client
        self.name = model
        self.attempts = attempts
        self.timeout = timeout

    async def _ask(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        body = {
            "model": self.name,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "call_analysis", "schema": schema}},
        }
        try:
            r = await self.client.post("chat/completions", json=body, timeout=self.timeout)
        except httpx.TimeoutException:
            raise AnalysisFailed(f"the model did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise ModelUnavailable(f"the analysing model's server is unreachable: {type(exc).__name__}") from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise ModelUnavailable(f"the analysing model's server answered {r.status_code}")
        if r.status_code >= 400:
            raise AnalysisFailed(f"the model's server refused the request ({r.status_code}): {r.text[:300]}")
        content = r.json()["choices"][0]["message"].get("content")
        return content if isinstance(content, str) else ""

    async def analyse(self, lines: list[Line], schema: Schema) -> Outcome:
        wanted = answer_schema(schema)
        system = SYSTEM.format(
            rubric=schema.rubric or "The caller got what they called for.", schema=json.dumps(schema.schema)
        )
        messages = [{"role": "system", "content": system}, {"role": "user", "content": transcript(lines)}]
        problem = "no attempt was made"
        for _ in range(self.attempts):
            try:
                content = await self._ask(messages, wanted)
            except AnalysisFailed as exc:
                problem = str(exc)
                continue
            try:
                answer = json.loads(content)
            except json.JSONDecodeError as exc:
                answer, problem = None, f"not JSON ({exc.msg})"
            else:
                problem = _misfits(answer, wanted)
            if problem:
                messages += [
                    {"role": "assistant", "content": content[:4000]},
                    {"role": "user", "content": f"That answer does not fit the schema: {problem}. Answer again."},
                ]
                continue
            judged = answer["evaluation"]
            evaluation = c.Evaluation(passed=judged["passed"], score=float(judged["score"]), reason=judged["reason"])
            return Outcome(summary=answer["summary"], data=answer["data"], evaluation=evaluation)
        raise AnalysisFailed(f"the model gave no answer that fits after {self.attempts} attempts: {problem}")
