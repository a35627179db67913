"""Analyses and costs in history over real Postgres: stored once per session, served, summed, erased."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_history import erasure
from parley_history.app import create_app
from parley_history.handlers import persist
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from tests.support.events import analyzed

from .conftest import API_KEY, T0, ended, started, turn

AUTH = {"Authorization": f"Bearer {API_KEY}"}
RANGE = "from=2026-11-25T00:00:00Z&to=2026-11-26T00:00:00Z"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


async def _call(store: SqlHistoryStore, conv: str, sess: str, user: str, minutes: int) -> None:
    end = ended(conv, sess, 2, at=T0 + timedelta(minutes=minutes))
    usage = c.Usage(prompt_tokens=100, completion_tokens=20, tts_characters=50, stt_audio_seconds=12.5)
    await persist([started(conv, sess, user=user), turn(conv, sess, 1), turn(conv, sess, 2)], store)
    await persist([msgspec.structs.replace(end, usage=usage)], store)


async def _analyses(engine: AsyncEngine) -> list[tuple[str, int, str]]:
    async with engine.connect() as conn:
        q = text("SELECT session_id, revision, summary FROM history.session_analyses ORDER BY session_id")
        return [(r[0], r[1], r[2]) for r in await conn.execute(q)]


async def test_one_analysis_per_session_the_newest_revision_whatever_the_order(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await _call(store, "c1", "s1", "ada", 2)
    second, first = analyzed("c1", "s1", 2, summary="second"), analyzed("c1", "s1", 1, summary="first")
    for batch in ([second], [first], [second], [first, second]):  # redelivered, late, and both at once
        await persist(batch, store)
    assert await _analyses(engine) == [("s1", 2, "second")]


async def test_the_session_serves_its_analysis_and_cost(engine: AsyncEngine, client: AsyncTestClient[Litestar]) -> None:
    store = SqlHistoryStore(engine)
    await _call(store, "c1", "s1", "ada", 2)
    assert (await client.get("/v1/sessions/s1", headers=AUTH)).json().get("analysis") is None
    await persist([analyzed("c1", "s1", total=0.04)], store)
    got = (await client.get("/v1/sessions/s1", headers=AUTH)).json()["analysis"]
    assert (got["summary"], got["data"], got["evaluation"]["passed"]) == (
        "The caller booked a table.",
        {"reason": "booking"},
        True,
    )
    [item] = got["cost"]["items"]
    assert got["cost"]["total"] == item["amount"] == pytest.approx(item["quantity"] * item["unit_price"])


async def test_usage_sums_sessions_and_costs_by_day_user_and_model(
    engine: AsyncEngine, client: AsyncTestClient[Litestar]
) -> None:
    store = SqlHistoryStore(engine)
    for conv, user, total in (("c1", "ada", 0.01), ("c2", "ada", 0.02), ("c3", "bob", 0.04)):
        await _call(store, conv, f"s-{conv}", user, 3)
        await persist([analyzed(conv, f"s-{conv}", total=total)], store)
    await _call(store, "c4", "s-c4", "bob", 3)  # not analysed yet: counted, with no cost

    day = (await client.get(f"/v1/usage?{RANGE}&group_by=day", headers=AUTH)).json()
    assert [(g["key"], g["currency"], g["sessions"], g["cost"]) for g in day["groups"]] == [
        ("2026-11-25", "USD", 3, pytest.approx(0.07)),
        ("2026-11-25", None, 1, 0.0),
    ]
    assert sum(g["prompt_tokens"] for g in day["groups"]) == 400
    assert sum(g["minutes"] for g in day["groups"]) == pytest.approx(4 * 3)
    user = (await client.get(f"/v1/usage?{RANGE}&group_by=user", headers=AUTH)).json()
    assert {(g["key"], g["currency"]): g["cost"] for g in user["groups"]} == {
        ("ada", "USD"): pytest.approx(0.03), ("bob", "USD"): pytest.approx(0.04), ("bob", None): 0.0,
    }  # fmt: skip
    model = (await client.get(f"/v1/usage?{RANGE}&group_by=model", headers=AUTH)).json()
    [line] = model["groups"]
    assert (line["key"], line["unit"], line["cost"]) == ("llm/openai/gpt-4.1-mini", "output_token", pytest.approx(0.07))
    assert [t["cost"] for t in model["totals"]] == [pytest.approx(0.07)]
    empty = (await client.get("/v1/usage?from=2026-11-26T00:00:00Z&to=2026-11-27T00:00:00Z", headers=AUTH)).json()
    assert empty["groups"] == [] and empty["totals"] == []


async def test_usage_refuses_a_range_that_is_not_one(client: AsyncTestClient[Litestar]) -> None:
    backwards = await client.get("/v1/usage?from=2026-11-26T00:00:00Z&to=2026-11-25T00:00:00Z", headers=AUTH)
    assert backwards.status_code == 200 and backwards.json()["groups"] == []
    for query in ("from=0.5", "to=2026-11-25", "group_by=week"):
        r = await client.get(f"/v1/usage?{query}", headers=AUTH)
        assert r.status_code == 400, query
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_erasure_removes_the_analysis_and_a_late_one_is_dropped(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await _call(store, "gone", "s1", "ada", 2)
    await persist([analyzed("gone", "s1")], store)
    await erasure.erase(engine, "gone")
    assert await _analyses(engine) == []
    await persist([analyzed("gone", "s1", 2)], store)  # an analysis asked for again, arriving after the erasure
    assert await _analyses(engine) == []
