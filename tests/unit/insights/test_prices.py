"""Pricing a session: quantities times the prices in effect when it started, item by item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from parley_insights import prices

import parley_contracts as c

TABLE = prices.parse(
    {
        "version": "t1",
        "currency": "EUR",
        "prices": [
            {"component": "llm", "provider": "acme", "model": "m1", "unit": "input_token", "price": 2, "per": 1e6,
             "from": "2026-01-01"},
            {"component": "llm", "provider": "acme", "model": "m1", "unit": "cached_input_token", "price": 0.5,
             "per": 1e6, "from": "2026-01-01"},
            {"component": "llm", "provider": "acme", "model": "m1", "unit": "output_token", "price": 8, "per": 1e6,
             "from": "2026-01-01"},
            # The price of output tokens halves at noon on 1 March.
            {"component": "llm", "provider": "acme", "model": "m1", "unit": "output_token", "price": 4, "per": 1e6,
             "from": "2026-03-01T12:00:00Z"},
            {"component": "stt", "provider": "ears", "model": "s1", "unit": "audio_second", "price": 0.6, "per": 60,
             "from": "2026-01-01"},
            {"component": "transport", "provider": "livekit", "model": "cloud", "unit": "participant_minute",
             "price": 0.001, "from": "2026-01-01"},
        ],
    }
)  # fmt: skip
USAGE = c.Usage(
    items=[
        c.UsageItem(component="llm", provider="acme", model="m1", input_tokens=10_000, cached_input_tokens=4_000,
                    output_tokens=2_000),
        c.UsageItem(component="stt", provider="ears", model="s1", audio_seconds=90),
        c.UsageItem(component="tts", provider="voice", model="v9", characters=1200),
    ]
)  # fmt: skip
MORNING = datetime(2026, 3, 1, 11, 59, tzinfo=UTC)


def _amounts(cost: c.Cost) -> dict[tuple[str, str], tuple[float, float, float]]:
    return {(i.model, i.unit): (i.quantity, i.unit_price, i.amount) for i in cost.items}


def test_each_item_multiplies_out_and_the_total_sums_them() -> None:
    cost = prices.cost(USAGE, 3.0, TABLE, MORNING, transport=("livekit", "cloud"))
    assert _amounts(cost) == {
        ("m1", "input_token"): (6_000, pytest.approx(2e-6), pytest.approx(0.012)),
        ("m1", "cached_input_token"): (4_000, pytest.approx(0.5e-6), pytest.approx(0.002)),
        ("m1", "output_token"): (2_000, pytest.approx(8e-6), pytest.approx(0.016)),
        ("s1", "audio_second"): (90, pytest.approx(0.01), pytest.approx(0.9)),
        ("v9", "character"): (1200, 0.0, 0.0),
        ("cloud", "participant_minute"): (3.0, pytest.approx(0.001), pytest.approx(0.003)),
    }
    for item in cost.items:
        assert item.amount == pytest.approx(item.quantity * item.unit_price)
    assert cost.total == pytest.approx(sum(i.amount for i in cost.items))
    assert (cost.currency, cost.price_table) == ("EUR", "t1")


def test_usage_without_a_price_is_listed_at_zero_and_marked_unpriced() -> None:
    cost = prices.cost(USAGE, 0.0, TABLE, MORNING, transport=None)
    assert [i.model for i in cost.items if i.unpriced] == ["v9"]
    assert all(i.component != "transport" for i in cost.items)


def test_a_price_change_at_noon_applies_to_calls_that_start_after_it() -> None:
    before = prices.cost(USAGE, 0.0, TABLE, MORNING, transport=None)
    after = prices.cost(USAGE, 0.0, TABLE, MORNING + timedelta(minutes=1), transport=None)
    assert _amounts(before)[("m1", "output_token")][2] == pytest.approx(0.016)
    assert _amounts(after)[("m1", "output_token")][2] == pytest.approx(0.008)
    assert before.total - after.total == pytest.approx(0.008)
    too_early = prices.cost(USAGE, 0.0, TABLE, datetime(2025, 12, 31, tzinfo=UTC), transport=None)
    assert all(i.unpriced for i in too_early.items)


def test_participant_minutes_count_people_not_agents() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    people = [
        c.agent.ParticipantSummary(identity="caller", kind="standard", joined_at=t0, left_at=t0 + timedelta(minutes=2)),
        c.agent.ParticipantSummary(identity="sip", kind="sip", joined_at=t0 + timedelta(minutes=1)),
        c.agent.ParticipantSummary(identity="agent", kind="agent", joined_at=t0),
    ]
    assert prices.participant_minutes(people, t0 + timedelta(minutes=3)) == 4.0


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"component": "llm", "provider": "a", "model": "m", "unit": "character", "price": 1, "from": "2026-01-01"},
         "not priced by 'character'"),
        ({"component": "llm", "provider": "a", "model": "m", "unit": "input_token", "price": -1, "from": "2026-01-01"},
         "cannot be negative"),
        ({"component": "llm", "provider": "a", "model": "m", "unit": "input_token", "price": 1, "from": "soon"},
         "`from` must be a date"),
        ({"component": "llm", "model": "m", "unit": "input_token", "price": 1, "from": "2026-01-01"}, "provider"),
    ],
)  # fmt: skip
def test_a_wrong_table_is_refused_saying_where(entry: dict[str, object], says: str) -> None:
    with pytest.raises(prices.PriceTableError, match="price 1") as caught:
        prices.parse({"currency": "USD", "prices": [entry]})
    assert says in str(caught.value)


def test_the_packaged_table_loads_with_dated_prices() -> None:
    table = prices.load()
    assert table.currency == "USD" and len(table.prices) >= 10
    assert table.price("llm", "openai", "gpt-4.1-mini", "output_token", MORNING) == pytest.approx(1.6e-6)
