"""The webhooks intake with an in-memory store: who gets which event, once; one report per session, when its
parts are in or its wait is over; nothing of an erased conversation."""

from __future__ import annotations

import json
from datetime import timedelta

import msgspec
from parley_webhooks import intake
from parley_webhooks.routing import REPORT, Endpoint

import parley_contracts as c
from tests.support.events import T0, analyzed, ended, started, turn

from .fakes import MemoryWebhookStore

WAIT = timedelta(minutes=5)
TURNS = Endpoint("ep_turns", "https://a.example/hook", ("turn_completed.v1",))
REPORTS = Endpoint("ep_reports", "https://b.example/hook", (REPORT,))
ALL = Endpoint("ep_all", "https://c.example/hook", ("*",))


def _transcript(conv: str, sess: str) -> c.RecordingStored:
    return c.RecordingStored(
        event_id=c.new_event_id(), occurred_at=T0, conversation_id=conv, session_id=sess, producer="recordings",
        recording_id=c.new_event_id(), kind="transcript", uri=f"file:///{sess}.json", bytes=10, sha256="0" * 64,
        content_type="application/json",
    )  # fmt: skip


def _bodies(store: MemoryWebhookStore, endpoint: Endpoint) -> list[dict[str, object]]:
    return [json.loads(m.body) for m in store.messages.values() if m.endpoint_id == endpoint.id]


async def _take(store: MemoryWebhookStore, *events: c.Event, at: timedelta = timedelta()) -> None:
    await intake.take(list(events), store, T0 + at, report_wait=WAIT, links=None)


async def test_each_endpoint_gets_the_types_it_named_once_whatever_the_redeliveries() -> None:
    store = MemoryWebhookStore(endpoints=[TURNS, REPORTS, ALL])
    call = [started("c1", "s1"), turn("c1", "s1", 1), turn("c1", "s1", 2)]
    await _take(store, *call)
    await _take(store, *call)  # redelivered
    assert [b["type"] for b in _bodies(store, TURNS)] == ["turn_completed.v1"] * 2
    assert len(_bodies(store, ALL)) == 3 and _bodies(store, REPORTS) == []
    first = _bodies(store, TURNS)[0]
    assert first["data"]["text"] == "turn 1 of s1" and first["timestamp"] == (T0 + timedelta(seconds=1)).isoformat()  # type: ignore[index]


async def test_a_report_waits_for_its_transcript_and_analysis_and_goes_once() -> None:
    store = MemoryWebhookStore(endpoints=[REPORTS])
    await _take(store, started("c1", "s1"), turn("c1", "s1", 1), ended("c1", "s1", 1))
    assert _bodies(store, REPORTS) == []
    await _take(store, _transcript("c1", "s1"))
    assert _bodies(store, REPORTS) == []
    await _take(store, analyzed("c1", "s1"))
    [report] = _bodies(store, REPORTS)
    data = report["data"]
    assert report["type"] == REPORT and data["missing"] == [] and data["session_id"] == "s1"  # type: ignore[index]
    assert data["analysis"]["summary"] == "The caller booked a table." and data["cost"]["total"] == 0.012  # type: ignore[index]
    assert [r["kind"] for r in data["recordings"]] == ["transcript"]  # type: ignore[index]
    await _take(store, analyzed("c1", "s1", 2), _transcript("c1", "s1"))  # later parts send nothing more
    assert len(_bodies(store, REPORTS)) == 1


async def test_a_report_whose_parts_do_not_come_goes_after_its_wait_naming_what_is_missing() -> None:
    store = MemoryWebhookStore(endpoints=[REPORTS])
    await _take(store, ended("c1", "s1", 0))
    assert await intake.send_ready_reports(store, T0 + timedelta(minutes=1), None) == 0
    assert await intake.send_ready_reports(store, T0 + WAIT + timedelta(minutes=1), None) == 1
    [report] = _bodies(store, REPORTS)
    assert report["data"]["missing"] == ["transcript", "analysis"]  # type: ignore[index]


async def test_the_latency_summary_counts_each_turn_once() -> None:
    store = MemoryWebhookStore(endpoints=[REPORTS])
    timed = [
        msgspec.structs.replace(turn("c1", "s1", n), metrics=c.TurnMetrics(e2e_latency=0.5 + n / 10)) for n in (2, 4, 6)
    ]
    await _take(store, *timed)
    await _take(store, *timed)  # redelivered
    await _take(store, ended("c1", "s1", 6), _transcript("c1", "s1"), analyzed("c1", "s1"))
    latency = _bodies(store, REPORTS)[0]["data"]["latency"]  # type: ignore[index]
    assert latency["turns"] == 3 and latency["e2e_latency"] == {"p50_s": 0.9, "p95_s": 1.08, "max_s": 1.1}


async def test_an_erased_conversation_loses_its_queue_and_its_later_events() -> None:
    store = MemoryWebhookStore(endpoints=[ALL])
    await _take(store, started("gone", "s1"), turn("gone", "s1", 1), started("kept", "s2"))
    erasure = c.ConversationErased(event_id=c.new_event_id(), occurred_at=T0, conversation_id="gone",
                                   producer="history")  # fmt: skip
    await _take(store, erasure, turn("gone", "s1", 2))
    await _take(store, ended("gone", "s1", 2))
    assert {m.conversation_id for m in store.messages.values()} == {"kept"}
    assert store.reports == {}
