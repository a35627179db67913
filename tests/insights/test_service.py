"""Insights as a service over real NATS and a real history: every ended session is analysed once, stored with
its session, and analysed again on request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from nats.aio.client import Client
from parley_insights.app import create_app
from parley_insights.offline import NAME as OFFLINE
from parley_insights.settings import Settings

import parley_contracts as c
from parley_devstack.testing import metric_total
from parley_history.app import create_app as history_app
from parley_history.db import migrate_async
from parley_history.settings import Settings as HistorySettings
from parley_runtime.messaging.entries import event_headers
from parley_runtime.observability.telemetry import prometheus_text, setup_telemetry
from tests.support import eventually
from tests.support.events import T0, started, turn
from tests.support.serving import served

KEY = {"Authorization": "Bearer insights-key"}
HISTORY_KEY = "history-key"


def _ended(conv: str, sess: str) -> c.SessionEnded:
    said = ["I want to book a table for two", "For what time?", "Eight tonight", "Booked for eight."]
    messages = [
        c.MessageSummary(seq=n + 1, role="user" if n % 2 == 0 else "assistant", text=t, at=T0)
        for n, t in enumerate(said)
    ]
    usage = c.Usage(items=[
        c.UsageItem(component="llm", provider="openai", model="gpt-4.1-mini", input_tokens=2000, output_tokens=300),
        c.UsageItem(component="tts", provider="elevenlabs", model="eleven_flash_v2_5", characters=400),
    ])  # fmt: skip
    return c.SessionEnded(
        event_id=c.new_event_id(), occurred_at=T0, conversation_id=conv, session_id=sess, producer="agent",
        reason="participant_disconnected", started_at=T0, ended_at=T0, duration_seconds=60, turn_count=4,
        messages=messages, usage=usage,
    )  # fmt: skip


@pytest.fixture
async def history(database_url: str, nats_url: str) -> AsyncIterator[str]:
    await migrate_async(database_url)
    settings = HistorySettings(database_url=database_url, api_keys=HISTORY_KEY, nats_url=nats_url)
    async with served(history_app(settings)) as url:
        yield url


@pytest.fixture
async def insights(history: str, nats_url: str, nc: Client) -> AsyncIterator[httpx.AsyncClient]:
    """Insights served by uvicorn: an analysis asked again reads history over HTTP in this event loop."""
    settings = Settings(api_keys="insights-key", nats_url=nats_url, history_url=history, history_key=HISTORY_KEY)
    async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def _publish(nc: Client, *events: c.Event, msg_id: str | None = None) -> None:
    js = nc.jetstream()
    for e in events:
        await js.publish(
            c.subject_for(e), c.encode(e), headers={**event_headers(e), "Nats-Msg-Id": msg_id or str(e.event_id)}
        )


async def _analysis(history: str, session_id: str, revision: int) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=history, headers={"Authorization": f"Bearer {HISTORY_KEY}"}) as client:
        found = (await client.get(f"/v1/sessions/{session_id}")).json().get("analysis")
    return found if found and found["revision"] >= revision else None


async def _analyses_on_voice(nc: Client) -> int:
    info = await nc.jetstream().stream_info("VOICE", subjects_filter="voice.session_analyzed.v1.>")
    return sum((info.state.subjects or {}).values())


async def test_an_ended_session_is_analysed_once_and_stored_with_its_cost(
    insights: httpx.AsyncClient, history: str, nc: Client
) -> None:
    setup_telemetry("test", "0")
    ended = _ended("c1", "s1")
    await _publish(nc, started("c1", "s1"), turn("c1", "s1", 1), ended)
    stored = await eventually(lambda: _analysis(history, "s1", 1), timeout=30, what="the analysis in history")
    assert (stored["status"], stored["analyzer"], stored["data"]["intent"]) == ("ok", OFFLINE, "book")
    items = stored["cost"]["items"]
    assert {(i["model"], i["unit"]) for i in items} == {
        ("gpt-4.1-mini", "input_token"), ("gpt-4.1-mini", "output_token"), ("eleven_flash_v2_5", "character"),
    }  # fmt: skip
    assert stored["cost"]["total"] == pytest.approx(2000 * 0.4e-6 + 300 * 1.6e-6 + 400 * 0.05e-3)

    cost = metric_total(prometheus_text().decode(), "parley_insights_cost_total", 'model="gpt-4.1-mini"')
    assert cost >= 2000 * 0.4e-6 + 300 * 1.6e-6 - 1e-9  # what Prometheus scrapes, by component and model

    await _publish(nc, ended, msg_id="redelivered-" + str(ended.event_id))  # the same end, again
    await eventually(lambda: _consumer_idle(nc), timeout=30, what="insights to take the redelivery")
    assert await _analyses_on_voice(nc) == 1  # the same analysis id: JetStream kept one


async def _consumer_idle(nc: Client) -> bool:
    info = await nc.jetstream().consumer_info("VOICE", "insights")
    return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq >= 4)


async def test_an_analysis_asked_again_replaces_the_stored_one(
    insights: httpx.AsyncClient, history: str, nc: Client
) -> None:
    await _publish(nc, started("c2", "s2"), _ended("c2", "s2"))
    first = await eventually(lambda: _analysis(history, "s2", 1), timeout=30, what="the first analysis")
    asked = await insights.post("/v1/sessions/s2/analysis", headers=KEY)
    assert asked.status_code == 202, asked.text
    assert asked.json() == {"session_id": "s2", "revision": 2}
    second = await eventually(lambda: _analysis(history, "s2", 2), timeout=30, what="the second analysis")
    assert second["event_id"] != first["event_id"] and await _analyses_on_voice(nc) == 2
    missing = await insights.post("/v1/sessions/nobody/analysis", headers=KEY)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert (await insights.post("/v1/sessions/s2/analysis")).status_code == 401


async def test_an_erased_conversation_loses_its_analysis(insights: httpx.AsyncClient, history: str, nc: Client) -> None:
    await _publish(nc, started("c3", "s3"), _ended("c3", "s3"))
    await eventually(lambda: _analysis(history, "s3", 1), timeout=30, what="the analysis")
    async with httpx.AsyncClient(base_url=history, headers={"Authorization": f"Bearer {HISTORY_KEY}"}) as client:
        assert (await client.delete("/v1/conversations/c3")).status_code == 202
        assert (await client.get("/v1/sessions/s3")).status_code == 404
    assert (await insights.post("/v1/sessions/s3/analysis", headers=KEY)).status_code == 404


def test_decoding_keeps_every_field() -> None:
    event = msgspec.json.decode(c.encode(_ended("c", "s")))
    assert event["usage"]["items"][0]["model"] == "gpt-4.1-mini"
