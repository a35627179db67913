"""What a session cost: its usage priced by a dated price table, item by item.

The table (YAML) names a currency, a version, and prices by component, provider, model and unit, each from a
date and time on. A session is priced with the prices in effect when it started, so a price change applies to
calls after it and a call analysed again keeps its cost. Usage with no price is listed at 0 and marked
`unpriced`, so a total is never silently short.

    version: "2026-12-01"
    currency: USD
    prices:
      - {component: llm, provider: openai, model: gpt-4.1-mini, unit: input_token,
         price: 0.40, per: 1000000, from: 2025-04-14}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

import parley_contracts as c

UNITS = {
    "llm": ("input_token", "cached_input_token", "output_token"),
    "stt": ("audio_second",),
    "tts": ("character", "audio_second"),
    "transport": ("participant_minute",),
}
PACKAGED = Path(__file__).parent / "data" / "prices.yaml"


class PriceTableError(ValueError):
    """The price table cannot be used; the message says where it is wrong."""


@dataclass(frozen=True)
class Price:
    component: str
    provider: str
    model: str
    unit: str
    unit_price: float
    effective: datetime


@dataclass(frozen=True)
class PriceTable:
    version: str
    currency: str
    prices: tuple[Price, ...]

    def price(self, component: str, provider: str, model: str, unit: str, at: datetime) -> float | None:
        """The unit price in effect at `at`, or None when the table has none."""
        best: Price | None = None
        for p in self.prices:
            applies = (p.component, p.provider, p.model, p.unit) == (component, provider, model, unit)
            if applies and p.effective <= at and (best is None or p.effective > best.effective):
                best = p
        return best.unit_price if best else None


def _when(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return _when(datetime.fromisoformat(str(value)), where)
    except ValueError:
        raise PriceTableError(f"{where}: `from` must be a date or an ISO date and time, not {value!r}") from None


def parse(raw: Any, source: str = "the price table") -> PriceTable:
    if not isinstance(raw, dict) or not isinstance(raw.get("prices"), list):
        raise PriceTableError(f"{source}: expected a mapping with `version`, `currency` and a list of `prices`")
    currency = str(raw.get("currency", ""))
    if len(currency) != 3 or not currency.isupper():
        raise PriceTableError(f"{source}: `currency` must be a three-letter code such as USD")
    prices = []
    for n, entry in enumerate(raw["prices"], start=1):
        where = f"{source}, price {n}"
        try:
            component, unit = str(entry["component"]), str(entry["unit"])
            price, per = float(entry["price"]), float(entry.get("per", 1))
            found = Price(component, str(entry["provider"]), str(entry["model"]), unit, price / per,
                          _when(entry["from"], where))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise PriceTableError(f"{where}: {exc!s} (needs component, provider, model, unit, price, from)") from None
        if unit not in UNITS.get(component, ()):
            raise PriceTableError(f"{where}: {component} is not priced by {unit!r} (units: {UNITS.get(component)})")
        if found.unit_price < 0:
            raise PriceTableError(f"{where}: a price cannot be negative")
        prices.append(found)
    return PriceTable(version=str(raw.get("version", "unversioned")), currency=currency, prices=tuple(prices))


def load(path: Path | None = None) -> PriceTable:
    source = path or PACKAGED
    try:
        return parse(yaml.safe_load(source.read_text()), str(source))
    except (OSError, yaml.YAMLError) as exc:
        raise PriceTableError(f"{source}: {exc}") from None


def _quantities(item: c.UsageItem) -> Iterable[tuple[str, float]]:
    if item.component == "llm":
        yield "input_token", max(0, item.input_tokens - item.cached_input_tokens)
        yield "cached_input_token", item.cached_input_tokens
        yield "output_token", item.output_tokens
    elif item.component == "stt":
        yield "audio_second", item.audio_seconds
    else:
        yield "character", item.characters
        yield "audio_second", item.audio_seconds


def participant_minutes(participants: Iterable[c.agent.ParticipantSummary], ended_at: datetime) -> float:
    """Call minutes of the session's people (agents are not billed as participants)."""
    seconds = sum(((p.left_at or ended_at) - p.joined_at).total_seconds() for p in participants if p.kind != "agent")
    return round(max(0.0, seconds) / 60, 4)


def cost(
    usage: c.Usage | None, minutes: float, table: PriceTable, at: datetime, *, transport: tuple[str, str] | None
) -> c.Cost:
    """The session's cost: each quantity used times its price at `at`. `transport` names the provider and model
    that bill participant minutes (LiveKit Cloud, a SIP trunk), if any."""
    items = []
    lines: list[tuple[c.insights.Component, str, str, str, float]] = [
        (i.component, i.provider, i.model, unit, q)
        for i in (usage.items if usage else [])
        for unit, q in _quantities(i)
    ]
    if transport and minutes > 0:
        lines.append(("transport", transport[0], transport[1], "participant_minute", minutes))
    for component, provider, model, unit, quantity in lines:
        if quantity <= 0:
            continue
        unit_price = table.price(component, provider, model, unit, at)
        amount = round(quantity * (unit_price or 0.0), 6)
        items.append(
            c.CostItem(
                component=component,
                provider=provider,
                model=model,
                unit=unit,
                quantity=round(quantity, 6),
                unit_price=unit_price or 0.0,
                amount=amount,
                unpriced=unit_price is None,
            )
        )
    total = round(sum(i.amount for i in items), 6)
    return c.Cost(
        currency=table.currency, total=total, items=items[: c.insights.MAX_COST_ITEMS], price_table=table.version
    )
