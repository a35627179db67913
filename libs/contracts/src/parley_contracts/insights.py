"""Events published by the insights service: what happened in a session, and what it cost."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from parley_contracts._base import NonNegativeFloat, SessionEvent, UtcDatetime

Component = Literal["llm", "stt", "tts", "transport"]
MAX_COST_ITEMS = 64
ANALYSIS_TEXT_MAX = 16 * 1024  # a summary or a reason: prose, not a transcript


class Evaluation(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The session judged against the deployment's rubric."""

    passed: bool
    score: Annotated[float, msgspec.Meta(ge=0, le=1)]
    reason: Annotated[str, msgspec.Meta(max_length=ANALYSIS_TEXT_MAX)] = ""


class CostItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One priced line: `quantity` of `unit` at `unit_price`, so `amount` = quantity x unit_price (rounded to
    the currency's micro-units)."""

    component: Component
    provider: str
    model: str
    unit: str  # "input_token", "cached_input_token", "output_token", "audio_second", "character", "participant_minute"
    quantity: NonNegativeFloat
    unit_price: NonNegativeFloat
    amount: NonNegativeFloat
    # Usage with no price in the table: priced at 0 and said so, so the total is never silently short.
    unpriced: bool = False


class Cost(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
    total: NonNegativeFloat
    items: Annotated[list[CostItem], msgspec.Meta(max_length=MAX_COST_ITEMS)] = []
    price_table: str  # the table's version: the prices in effect when the session started


class SessionAnalyzed(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="session_analyzed.v1"):
    """A session's analysis and cost, after it ended (`session_ended.v1`).

    `revision` is 1 for the analysis made when the session ended, and grows with each analysis asked for again
    (`POST /v1/sessions/{id}/analysis` on insights): keep the highest. `status` is `failed` when the analysing
    model never gave an answer that fits the schema (`failure` says why): the cost is there all the same.
    `analyzer` names what analysed it: an LLM's model, or `parley-offline-extractive` when none is configured."""

    revision: Annotated[int, msgspec.Meta(ge=1)]
    status: Literal["ok", "failed"]
    analyzer: str
    summary: Annotated[str, msgspec.Meta(max_length=ANALYSIS_TEXT_MAX)] | None = None
    data_schema: str | None = None  # the name of the JSON Schema the data was extracted by
    data: dict[str, Any] | None = None
    evaluation: Evaluation | None = None
    failure: Annotated[str, msgspec.Meta(max_length=ANALYSIS_TEXT_MAX)] | None = None
    cost: Cost | None = None
    analyzed_at: UtcDatetime


__all__ = ["ANALYSIS_TEXT_MAX", "Component", "Cost", "CostItem", "Evaluation", "SessionAnalyzed"]
