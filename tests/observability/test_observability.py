"""One trace per turn across agent -> NATS -> history -> Postgres; metrics that move; no text leaks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from litestar.testing import AsyncTestClient
from livekit.agents.llm import ChatMessage
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import parley_contracts as c
from parley_agent.state import CallState
from parley_agent.tracker import CallTracker
from parley_devstack.testing import metric_total, provisioned
from parley_history.app import create_app
from parley_history.consumers import history_consumer
from parley_history.db import make_engine, migrate_async
from parley_history.settings import Settings
from parley_history.store import SqlHistoryStore
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.observability.telemetry import setup_telemetry
from tests.support import eventually

SECRET = "my card number is 4111 1111 1111 1111"
_exporter = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    setup_telemetry("parley-tests", "0.0.0", extra_span_processor=SimpleSpanProcessor(_exporter))
    _exporter.clear()
    yield _exporter
    _exporter.clear()


@pytest.fixture
async def js_url(nats_url: str) -> str:
    await provisioned(nats_url)
    return nats_url


async def test_one_turn_is_one_trace_from_agent_to_database_and_no_text_leaks(
    spans: InMemorySpanExporter, js_url: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await migrate_async(database_url)
    outbox = Outbox(NatsSettings(url=js_url), name="agent-test").start()
    state = CallState(conversation_id="conv-t", session_id="sess-t", room_name="room-t", session_start=c.utcnow())
    tracker = CallTracker(state, outbox.emit, agent_name="parley-agent")
    tracker.record_message(ChatMessage(role="user", content=[SECRET]), SECRET)
    assert await outbox.drain(10)
    await outbox.close()

    engine = make_engine(database_url, pool_size=2)
    nc = await nats.connect(js_url)
    consumer = history_consumer(nc, SqlHistoryStore(engine), batch_size=100)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await eventually(lambda: consumer.stats.acked >= 1, what="a message acked")
    stop.set()
    await task
    await nc.close()
    await engine.dispose()

    finished = {s.name: s for s in spans.get_finished_spans()}
    turn, publish = finished["agent.turn"], finished["publish turn_completed"]
    process, insert = finished["history process"], finished["history.insert"]
    assert len({s.context.trace_id for s in (turn, publish, process, insert)}) == 1, "a single trace"
    assert turn.parent is None
    assert publish.parent is not None and publish.parent.span_id == turn.context.span_id
    assert publish.kind == SpanKind.PRODUCER
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert process.parent.is_remote and process.kind == SpanKind.CONSUMER
    assert insert.parent is not None and insert.parent.span_id == process.context.span_id
    # No transcript text in any span attribute or event, nor in any log record.
    for span in spans.get_finished_spans():
        assert SECRET not in repr(dict(span.attributes or {}))
        assert all(SECRET not in repr(dict(e.attributes or {})) for e in span.events)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.__dict__)


async def test_metrics_endpoint_shows_the_counters_moving(
    spans: InMemorySpanExporter, js_url: str, database_url: str
) -> None:
    await migrate_async(database_url)
    settings = Settings(database_url=database_url, api_keys="k", nats_url=js_url, migrate_on_start=False)
    app = create_app(settings)
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    async with AsyncTestClient(app=app) as client:
        before = (await client.get("/metrics", headers={"Authorization": "Bearer k"})).text
        for seq in range(1, 6):
            e = c.TurnCompleted(event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id="conv-m",
                                session_id="sess-m", producer="test", seq=seq, role="user", text="hello")  # fmt: skip
            await js.publish(c.subject_for(e), c.encode(e), headers={"Nats-Msg-Id": str(e.event_id)})
        # A type history passes over (rooms' event): acked unread, and counted, so the consumer is not "stalled".
        room = c.RoomCreated(event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id="conv-m",
                             producer="test", room_name="room-m", at=c.utcnow())  # fmt: skip
        await js.publish(c.subject_for(room), c.encode(room), headers={"Nats-Msg-Id": str(room.event_id)})
        auth = {"Authorization": "Bearer k"}

        async def all_counted() -> Any:
            turns = (await client.get("/v1/sessions/sess-m", headers=auth)).json().get("turns", [])
            response = await client.get("/metrics", headers=auth)
            skipped = metric_total(response.text, "parley_events_processed_total", 'type="skipped"')
            skipped_before = metric_total(before, "parley_events_processed_total", 'type="skipped"')
            return response if len(turns) == 5 and skipped - skipped_before else None

        response = await eventually(all_counted, timeout=15, interval=0.1, what="the turns stored and counted")
        after = response.text
    await nc.close()
    assert response.headers["content-type"].startswith("text/plain")

    def processed(text: str) -> float:
        return metric_total(text, "parley_events_processed_total", 'consumer="history"')

    assert processed(after) - processed(before) >= 5
    assert "parley_http_server_duration" in after
    assert 'http_route="/v1/sessions/{session_id}"' in after
