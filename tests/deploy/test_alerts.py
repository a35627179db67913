"""The chart's alerts parse as PromQL and use only metrics and labels the running services export."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import asyncpg
import nats
import promql_parser as promql
import pytest
from litestar.testing import AsyncTestClient
from livekit.agents.llm import ChatMessage

import parley_contracts as c
from parley_agent.state import CallState
from parley_agent.tracker import CallTracker
from parley_devstack import chart
from parley_devstack.testing import metric_total
from parley_history.app import create_app
from parley_history.db import migrate_async
from parley_history.settings import Settings
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.messaging.provision import provision
from parley_runtime.observability.telemetry import setup_telemetry
from tests.support import eventually

LOST_SESSION = """
INSERT INTO history.conversations (id, started_at, last_activity_at) VALUES ('conv-lost', now(), now());
INSERT INTO history.sessions (id, conversation_id, received_at)
    VALUES ('sess-lost', 'conv-lost', now() - interval '3 hours');
"""

# Labels Prometheus adds to every scraped series (the PodMonitor's target labels), not the process.
TARGET_LABELS = {"namespace", "pod", "job", "instance", "container"}


def _turn(seq: int) -> c.TurnCompleted:
    return c.TurnCompleted(event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id="conv-a",
                           session_id="sess-a", producer="test", seq=seq, role="user", text="hi")  # fmt: skip


def _rules(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        rule
        for o in chart.render(values)
        if o["kind"] == "PrometheusRule"
        for group in o["spec"]["groups"]
        for rule in group["rules"]
    ]


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    return _rules({"prometheusRule": {"enabled": True}, "serviceMonitor": {"enabled": True}})


def _series(text: str) -> dict[str, set[str]]:
    """Metric name -> label names, from Prometheus text."""
    found: dict[str, set[str]] = defaultdict(set)
    for line in text.splitlines():
        if m := re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? ", line):
            found[m.group(1)] |= set(re.findall(r'(\w+)="', m.group(2) or ""))
    return found


async def _exported(nats_url: str, database_url: str) -> dict[str, set[str]]:
    """What a history process's /metrics shows after real work: turns, a poison event, an outbox, HTTP, and a
    session whose agent was lost (open, received three hours ago: history ends it as it starts)."""

    async def run() -> str:
        setup_telemetry("parley-tests", "0.0.0")  # what `serve` does before create_app in a real process
        nc = await nats.connect(nats_url)
        await provision(nc.jetstream())
        await migrate_async(database_url)
        db = await asyncpg.connect(database_url)
        await db.execute(LOST_SESSION)
        await db.close()
        settings = Settings(
            database_url=database_url, api_keys="k", metrics_keys="scrape", nats_url=nats_url, migrate_on_start=False
        )
        js = nc.jetstream()
        async with AsyncTestClient(app=create_app(settings)) as client:
            # This process may have counted events for earlier tests: wait for this work's own increments.
            before = (await client.get("/metrics", headers={"Authorization": "Bearer scrape"})).text
            # An outbox that overflows with no spill file drops (and counts) its second event.
            outbox = Outbox(NatsSettings(url=nats_url), name="probe", maxsize=1).start()
            for seq in (1, 2):
                outbox.emit(_turn(seq))
            await js.publish("voice.turn_completed.v1.conv-a", b"not json", headers={"Nats-Msg-Id": "poison-1"})
            # The agent's turn latency, recorded by the real tracker from the framework's per-message metrics.
            agent = Outbox(NatsSettings(url=nats_url), name="agent-probe").start()
            state = CallState(conversation_id="conv-b", session_id="sess-b", room_name="r", session_start=c.utcnow())
            tracker = CallTracker(state, agent.emit, agent_name="parley-agent")
            reply = ChatMessage(role="assistant", content=["hi"], metrics={"e2e_latency": 1.2, "llm_node_ttft": 0.4})
            tracker.record_message(reply, "hi")
            await agent.close()
            await outbox.drain(10)
            assert (await client.get("/v1/conversations", headers={"Authorization": "Bearer k"})).status_code == 200

            async def showing_the_work() -> str | None:
                text = (await client.get("/metrics", headers={"Authorization": "Bearer scrape"})).text
                terminated, processed = (
                    metric_total(text, name, having) - metric_total(before, name, having)
                    for name, having in (("parley_events_failed_total", 'outcome="term"'),
                                         ("parley_events_processed_total", ""))
                )  # fmt: skip
                seen = ("parley_consumer_pending{", 'stage="e2e_latency"', 'http_route="/v1/conversations"',
                        "parley_sessions_lost_total")  # fmt: skip
                return text if terminated and processed and all(s in text for s in seen) else None

            text = await eventually(showing_the_work, timeout=20, interval=0.2, what="/metrics showing the work")
            await outbox.close()
        await nc.close()
        return text

    return _series(await run())


def _selectors(expr: Any) -> list[Any]:
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql.VectorSelector):
            found.append(node)

    promql.walk(expr, visit)
    return found


def _grouping(expr: Any) -> set[str]:
    labels: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql.AggregateExpr) and node.modifier is not None:
            labels.update(node.modifier.labels)

    promql.walk(expr, visit)
    return labels


def test_alerts_are_off_by_default() -> None:
    assert _rules({}) == []


def test_every_alert_parses_says_how_bad_and_what_to_do(rules: list[dict[str, Any]]) -> None:
    assert len(rules) >= 6
    for rule in rules:
        promql.parse(rule["expr"])  # raises on a syntax error
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 40, rule["alert"]
        if "for" in rule:
            promql.parse_duration(rule["for"])
        # An annotation can only name labels the expression keeps.
        used = set(re.findall(r"\$labels\.(\w+)", rule["annotations"]["summary"] + rule["annotations"]["description"]))
        assert used <= _grouping(promql.parse(rule["expr"])), rule["alert"]


@pytest.mark.slow
async def test_every_metric_and_label_an_alert_uses_is_exported(
    rules: list[dict[str, Any]], nats_url: str, database_url: str
) -> None:
    exported = await _exported(nats_url, database_url)
    for rule in rules:
        expr = promql.parse(rule["expr"])
        selectors = _selectors(expr)
        available: set[str] = set(TARGET_LABELS)
        for selector in selectors:
            assert selector.name in exported, f"{rule['alert']}: {selector.name} is not exported"
            labels = {m.name for m in selector.matchers.matchers}
            assert labels <= exported[selector.name] | TARGET_LABELS, f"{rule['alert']}: {selector.name} {labels}"
            available |= exported[selector.name]
        assert _grouping(expr) <= available, rule["alert"]
