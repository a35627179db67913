"""The analyser `make dev` runs without an LLM: honest about what it is (`parley-offline-extractive`).

Its summary is extractive (what the caller said first and last, and how many of their turns got an answer); it
fills the schema's fields only with what a rule reads off the transcript (an enum value the caller said, a count,
whether every caller turn was answered), and leaves the rest empty; its evaluation is that rule, stated as the
reason. A deployment that wants judgement configures an LLM (INSIGHTS_LLM_BASE_URL).
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

import parley_contracts as c
from parley_insights.analysis import AnalysisFailed, Line, Outcome, Schema

NAME = "parley-offline-extractive"
_WORD = re.compile(r"[a-z0-9']+")


def _answered(lines: list[Line]) -> tuple[int, int]:
    """Caller turns, and how many of them the agent answered (an agent turn came after)."""
    asked = answered = 0
    for i, line in enumerate(lines):
        if line.role == "user":
            asked += 1
            answered += any(later.role == "assistant" for later in lines[i + 1 :])
    return asked, answered


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(spec: dict[str, Any], said: set[str], asked: int, all_answered: bool) -> Any:
    kinds = spec.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "enum" in spec:
        found = [v for v in spec["enum"] if isinstance(v, str) and v.lower() in said]
        return found[0] if found else ("other" if "other" in spec["enum"] else None)
    if "boolean" in kinds:
        return all_answered
    if "integer" in kinds or "number" in kinds:
        return asked
    return None  # free text: only a model can read it off the call


class OfflineAnalyser:
    name = NAME

    async def analyse(self, lines: list[Line], schema: Schema) -> Outcome:
        asked, answered = _answered(lines)
        said = {w for line in lines if line.role == "user" for w in _WORD.findall(line.text.lower())}
        callers = [line.text for line in lines if line.role == "user"]
        summary = f'The caller said "{_clip(callers[0])}"'
        if len(callers) > 1:
            summary += f' and last "{_clip(callers[-1])}"'
        summary += f". The agent answered {answered} of the caller's {asked} turns."
        props: dict[str, Any] = schema.schema.get("properties", {})
        data = {name: _value(spec, said, asked, answered == asked) for name, spec in props.items()}
        try:
            jsonschema.validate(data, schema.schema)
        except jsonschema.ValidationError as exc:
            raise AnalysisFailed(f"{NAME} cannot fill schema {schema.name!r}: {exc.message}") from None
        evaluation = c.Evaluation(
            passed=answered == asked,
            score=round(answered / asked, 3) if asked else 0.0,
            reason=f"{NAME} judges by one rule: every caller turn got an answer ({answered} of {asked}).",
        )
        return Outcome(summary=summary, data=data, evaluation=evaluation)
