"""The REST API over real Postgres: auth, paging, ordering, search, and problem-details errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import parley_history
from parley_history import queries
from parley_history.app import create_app
from parley_history.handlers import persist
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from parley_runtime.web.cursors import encode_cursor

from .conftest import API_KEY, T0, ended, started, turn

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture
async def seeded(engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    for i in range(5):
        conv, sess = f"conv-{i}", f"sess-{i}"
        at = T0 + timedelta(minutes=i)
        await persist([started(conv, sess, user="ada" if i % 2 == 0 else "bob", at=at)], store)
        texts = ["I need to reschedule my dentist appointment", "Sure, which day suits you?", "Friday morning"]
        await persist([turn(conv, sess, n + 1, t, at=at + timedelta(seconds=n)) for n, t in enumerate(texts)], store)
    await persist([ended("conv-0", "sess-0", 3)], store)


async def test_every_v1_route_requires_the_api_key(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/v1/conversations", "/v1/conversations/c1", "/v1/sessions/s1", "/v1/search?q=x"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
            r = await client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["status"] == 401
            assert r.json()["detail"] == "missing or invalid API key"


async def test_health_is_open_and_ready_reports_dependencies(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "version": parley_history.__version__}
    ready = await client.get("/ready")
    assert ready.json()["checks"]["postgres"] is True
    assert (await client.get("/schema/openapi.json", headers=AUTH)).status_code == 200


@pytest.mark.usefixtures("seeded")
async def test_conversations_are_listed_newest_first_with_a_cursor(client: AsyncTestClient[Litestar]) -> None:
    first = (await client.get("/v1/conversations?limit=2", headers=AUTH)).json()
    assert [c["id"] for c in first["items"]] == ["conv-4", "conv-3"]
    second = (await client.get(f"/v1/conversations?limit=2&cursor={first['next_cursor']}", headers=AUTH)).json()
    assert [c["id"] for c in second["items"]] == ["conv-2", "conv-1"]
    third = (await client.get(f"/v1/conversations?limit=2&cursor={second['next_cursor']}", headers=AUTH)).json()
    assert [c["id"] for c in third["items"]] == ["conv-0"]
    assert third["next_cursor"] is None
    ada = (await client.get("/v1/conversations?user_id=ada", headers=AUTH)).json()
    assert [c["id"] for c in ada["items"]] == ["conv-4", "conv-2", "conv-0"]


@pytest.mark.usefixtures("seeded")
async def test_turns_page_backwards_and_each_page_reads_oldest_first(client: AsyncTestClient[Litestar]) -> None:
    page = (await client.get("/v1/conversations/conv-1/turns?limit=2", headers=AUTH)).json()
    assert [t["seq"] for t in page["items"]] == [2, 3]
    older = await client.get(f"/v1/conversations/conv-1/turns?limit=2&before={page['next_before']}", headers=AUTH)
    assert [t["seq"] for t in older.json()["items"]] == [1]
    assert older.json()["next_before"] is None


@pytest.mark.usefixtures("seeded")
async def test_session_and_conversation_details(client: AsyncTestClient[Litestar]) -> None:
    session = (await client.get("/v1/sessions/sess-0", headers=AUTH)).json()
    assert [t["seq"] for t in session["turns"]] == [1, 2, 3]
    assert session["session"]["status"] == "ended"
    assert session["session"]["incomplete"] is False
    conv = (await client.get("/v1/conversations/conv-0", headers=AUTH)).json()
    assert conv["conversation"]["user_id"] == "ada"
    assert [s["id"] for s in conv["sessions"]] == ["sess-0"]


@pytest.mark.usefixtures("seeded")
async def test_search_ranks_matching_turns(client: AsyncTestClient[Litestar]) -> None:
    r = (await client.get("/v1/search?q=dentist appointment&user_id=bob", headers=AUTH)).json()
    assert {h["turn"]["conversation_id"] for h in r["items"]} == {"conv-1", "conv-3"}
    assert all("dentist" in h["turn"]["text"] for h in r["items"])
    assert r["items"][0]["rank"] >= r["items"][-1]["rank"]
    none = (await client.get("/v1/search?q=volcano", headers=AUTH)).json()
    assert none["items"] == []


async def test_a_search_over_too_many_matches_is_cut_off_with_a_503_and_the_api_keeps_serving(
    settings: Settings, engine: AsyncEngine
) -> None:
    store = SqlHistoryStore(engine)
    await persist([started("busy", "busy-1")], store)
    for first in range(1, 20_001, 2_000):  # 20,000 turns that all match: ranking them takes well over 20 ms
        await persist(
            [turn("busy", "busy-1", n, f"appointment number {n}") for n in range(first, first + 2_000)], store
        )
    hasty = msgspec.structs.replace(settings, search_timeout_seconds=0.02)
    async with AsyncTestClient(app=create_app(hasty)) as client:
        r = await client.get("/v1/search?q=appointment", headers=AUTH)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "narrow it with user_id, conversation_id" in r.json()["detail"]
        assert (await client.get("/v1/conversations/busy", headers=AUTH)).status_code == 200
    # A budget that is not the limit ranks them all (how long that takes is the machine's: not asserted here).
    roomy = msgspec.structs.replace(settings, search_timeout_seconds=60)
    async with AsyncTestClient(app=create_app(roomy)) as client:
        r = await client.get("/v1/search?q=appointment&limit=3", headers=AUTH)
        assert r.status_code == 200
        assert len(r.json()["items"]) == 3


async def test_the_search_budget_and_planning_hold_for_its_own_transaction_only(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await queries.search_turns(
            conn, query="x", user_id=None, conversation_id=None, limit=1, offset=0, timeout_seconds=2.5
        )
        assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "2500ms"
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "force_custom_plan"
        await conn.commit()  # even a committed transaction leaves the pooled connection as it was
        assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "15s"
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "auto"


async def test_every_search_is_planned_for_its_own_words_and_conversation(engine: AsyncEngine, seeded: None) -> None:
    # The driver prepares the query once per connection; after five runs Postgres may settle on a generic plan,
    # made without the words or the conversation, which for one conversation reads every turn holding the word.
    async with engine.connect() as conn:
        for _ in range(12):
            hits, _ = await queries.search_turns(
                conn, query="appointment", user_id=None, conversation_id="conv-2", limit=20, offset=0,
                timeout_seconds=5,
            )  # fmt: skip
            assert [h.turn.conversation_id for h in hits] == ["conv-2"]
            await conn.commit()
        plans = (
            await conn.execute(
                text(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement LIKE '%ts_rank_cd%' AND statement NOT LIKE '%pg_prepared_statements%'"
                )
            )
        ).one()
    assert tuple(plans) == (0, 12)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/conversations/bad.id", 400),
        ("/v1/conversations?limit=0", 400),
        ("/v1/conversations?limit=201", 400),
        ("/v1/conversations?cursor=garbage", 400),
        ("/v1/conversations/nope/turns?before=garbage", 404),
        ("/v1/conversations/nope", 404),
        ("/v1/sessions/nope", 404),
        ("/v1/search", 400),
    ],
)
async def test_bad_requests_get_problem_details(client: AsyncTestClient[Litestar], path: str, status: int) -> None:
    r = await client.get(path, headers=AUTH)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status
    assert body.get("detail")


async def test_a_request_that_finds_every_connection_taken_is_a_503_after_the_pool_timeout(
    settings: Settings,
) -> None:
    small = msgspec.structs.replace(settings, db_pool_size=1)  # one pooled connection and one overflow
    async with AsyncTestClient(app=create_app(small)) as client:
        engine: AsyncEngine = client.app.state.runtime.engine
        portal = client.blocking_portal  # the app's own event loop: its connections live there

        async def take() -> AsyncConnection:  # what a slow request holds
            conn = await engine.connect()
            await conn.execute(text("SELECT 1"))
            return conn

        taken = [portal.call(take), portal.call(take)]
        r = await client.get("/v1/conversations", headers=AUTH)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "5"
        assert "unavailable" in r.json()["detail"]
        for conn in taken:
            portal.call(conn.close)
        assert (await client.get("/v1/conversations", headers=AUTH)).status_code == 200  # once they are back


@pytest.mark.parametrize(
    "parts",
    [
        ("0001-01-01T00:00:00+14:00", 1, "sess-0"),  # a time with no UTC equivalent
        ("2026-01-01T00:00:00+00:00", 2**70, "sess-0"),  # a seq no integer column holds
        ("2026-01-01T00:00:00+00:00", True, "sess-0"),
        ("2026-01-01T00:00:00+00:00", 1, 5),
    ],
    ids=["time", "seq-too-big", "seq-bool", "session-not-text"],
)
async def test_a_forged_turns_cursor_is_a_400_problem(
    client: AsyncTestClient[Litestar], seeded: None, parts: tuple[object, ...]
) -> None:
    r = await client.get(f"/v1/conversations/conv-0/turns?before={encode_cursor(*parts)}", headers=AUTH)
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == "malformed cursor"


async def test_the_call_log_sums_each_conversation_and_filters_by_user_time_and_status(
    client: AsyncTestClient[Litestar], seeded: None, engine: AsyncEngine
) -> None:
    store = SqlHistoryStore(engine)
    at = T0 + timedelta(minutes=1)
    lost = msgspec.structs.replace(
        ended("conv-1", "sess-1", 3, at=at + timedelta(seconds=9)), reason="agent_lost", started_at=at
    )
    await persist([lost], store)
    everything = (await client.get("/v1/calls", headers=AUTH)).json()
    by_id = {c["conversation_id"]: c for c in everything["items"]}
    assert [c["conversation_id"] for c in everything["items"]] == [f"conv-{i}" for i in reversed(range(5))]
    assert by_id["conv-0"]["status"] == "ended" and by_id["conv-1"]["status"] == "agent_lost"
    assert by_id["conv-2"]["status"] == "live" and by_id["conv-2"]["duration_seconds"] > 0
    assert by_id["conv-0"] | {"last_activity_at": None} == {
        "conversation_id": "conv-0", "user_id": "ada", "started_at": T0.isoformat().replace("+00:00", "Z"),
        "last_activity_at": None, "sessions": 1, "turns": 3, "duration_seconds": by_id["conv-0"]["duration_seconds"],
        "status": "ended", "latest_session_id": "sess-0",
    }  # fmt: skip

    async def ids(**params: str) -> list[str]:
        r = await client.get("/v1/calls", params=params, headers=AUTH)
        assert r.status_code == 200, r.text
        return [c["conversation_id"] for c in r.json()["items"]]

    assert await ids(user_id="bob") == ["conv-3", "conv-1"]
    assert await ids(status="live") == ["conv-4", "conv-3", "conv-2"]
    assert await ids(status="agent_lost") == ["conv-1"]
    window = {"since": (T0 + timedelta(minutes=1)).isoformat(), "until": (T0 + timedelta(minutes=3)).isoformat()}
    assert await ids(**window) == ["conv-2", "conv-1"]
    first = (await client.get("/v1/calls", params={"limit": "2", "status": "live"}, headers=AUTH)).json()
    rest = await ids(limit="2", status="live", cursor=first["next_cursor"])
    assert [c["conversation_id"] for c in first["items"]] + rest == ["conv-4", "conv-3", "conv-2"]
    assert (await client.get("/v1/calls", params={"status": "lost"}, headers=AUTH)).status_code == 400
