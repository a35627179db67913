"""A very long call's transcript holds every turn: the summary's missing earlier messages come from history
(`history.v1.session_turns`, the real history service on real NATS and Postgres), and the session waits
while history does not have them all."""

from __future__ import annotations

import asyncio
import json

import msgspec
import nats
import pytest
from litestar.testing import AsyncTestClient
from nats.micro.service import Service

import parley_contracts as c
from parley_history.db import make_engine as history_engine
from parley_history.db import migrate_async as migrate_history
from parley_history.handlers import persist
from parley_history.request_reply import start_request_service
from parley_history.store import SqlHistoryStore
from parley_recordings.app import create_app
from parley_recordings.consumers import recordings_consumer
from parley_recordings.documents import transcript_json
from parley_recordings.handlers import store_session
from parley_recordings.history_turns import nats_earlier_turns
from parley_recordings.repo import Recording
from parley_recordings.settings import Settings
from parley_recordings.whole_session import WaitingForHistory
from parley_runtime.messaging.provision import provision
from tests.support import eventually

from ..history.conftest import started, turn
from .conftest import AUTH, handler_deps, session_ended

pytestmark = pytest.mark.parametrize("backend", ["file"])  # the blob store is not what this is about

TURNS = 40
LONG = "y" * 20_000  # about 13 turns to a reply of history's, so it takes several


def _cut_short(session: str, kept: int) -> c.SessionEnded:
    """The agent's summary of a TURNS-turn call that kept only its newest `kept` messages."""
    turns = [turn("conv-r", session, n, f"{n} {LONG}") for n in range(TURNS - kept + 1, TURNS + 1)]
    messages = [c.MessageSummary(seq=t.seq, role=t.role, text=t.text, at=t.occurred_at) for t in turns]
    end = session_ended(None, session=session)
    return msgspec.structs.replace(end, turn_count=TURNS, messages=messages, messages_truncated=True)


async def _history(settings: Settings, session: str, seqs: range) -> None:
    engine = history_engine(settings.database_url, pool_size=2)
    store = SqlHistoryStore(engine)
    await persist([started("conv-r", session), *[turn("conv-r", session, n, f"{n} {LONG}") for n in seqs]], store)
    await engine.dispose()


async def test_a_cut_short_summary_is_completed_from_history_and_waits_for_what_history_lacks(
    settings: Settings, nats_url: str
) -> None:
    await migrate_history(settings.database_url)
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    deps.earlier_turns = nats_earlier_turns(nc, timeout=2)
    event = _cut_short("sess-long", kept=5)
    with pytest.raises(WaitingForHistory, match="did not answer"):
        await store_session(event, deps)  # history is not running: the session waits
    history = history_engine(settings.database_url, pool_size=2)
    service: Service = await start_request_service(nc, history, version="0.0.1", timeout=2)
    await _history(settings, "sess-long", range(1, 20))  # history lags: turns 20-35 not stored yet
    with pytest.raises(WaitingForHistory, match="history holds 19 of the session's 35 earlier turns"):
        await store_session(event, deps)
    assert await deps.repo.for_session("sess-long") == []  # nothing written from a partial transcript
    await _history(settings, "sess-long", range(20, TURNS + 1))

    stored = {r.format: r for r in await store_session(event, deps)}
    body = b"".join([b async for b in await deps.blobs.open_range(stored["json"].key, 0, stored["json"].bytes)])
    doc = json.loads(body)
    assert [m["seq"] for m in doc["messages"]] == list(range(1, TURNS + 1)) and not doc["messages_truncated"]
    assert [m["text"] for m in doc["messages"]] == [f"{n} {LONG}" for n in range(1, TURNS + 1)]
    assert body == transcript_json(msgspec.structs.replace(event, messages=[
        c.MessageSummary(seq=m["seq"], role=m["role"], text=m["text"], at=m["at"]) for m in doc["messages"]
    ], messages_truncated=False))  # fmt: skip
    await service.stop()
    await history.dispose()
    await nc.close()
    await engine.dispose()


async def test_a_whole_summary_needs_no_history(settings: Settings, nats_url: str) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    deps.earlier_turns = nats_earlier_turns(nc, timeout=0.5)  # nobody answers: it must not be asked
    stored = await store_session(session_ended(None), deps)
    assert sorted(r.format for r in stored) == ["json", "vtt"]
    await nc.close()
    await engine.dispose()


async def test_a_session_waiting_for_history_holds_back_no_other_session(settings: Settings, nats_url: str) -> None:
    await migrate_history(settings.database_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    long, short = _cut_short("sess-long", kept=5), [session_ended(None) for _ in range(3)]
    for event in (short[0], long, *short[1:]):  # one fetch, the long call among the others
        await js.publish(c.subject_for(event), c.encode(event), headers={"Nats-Msg-Id": str(event.event_id)})
    async with AsyncTestClient(app=create_app(settings)) as client:

        async def stored(session: str) -> int:
            r = await client.get("/v1/recordings", params={"session_id": session}, headers=AUTH)
            return len(r.json()["items"])

        async def short_ones_stored() -> bool:  # history is not even running
            return [await stored(e.session_id) for e in short] == [2, 2, 2]

        await eventually(short_ones_stored, timeout=20, what="the other sessions, which need no history")
        assert await stored("sess-long") == 0
        history = history_engine(settings.database_url, pool_size=2)
        service = await start_request_service(nc, history, version="0.0.1", timeout=2)
        await _history(settings, "sess-long", range(1, TURNS + 1))

        async def long_one_stored() -> bool:
            return await stored("sess-long") == 2

        # Its redelivery comes after a growing delay.
        await eventually(long_one_stored, timeout=40, interval=0.2, what="the long call's transcript")
        await service.stop()
        await history.dispose()
    await nc.close()


async def test_after_its_waits_a_session_is_written_with_what_history_holds(settings: Settings, nats_url: str) -> None:
    """A turn may never reach history (a text Postgres cannot store is dead-lettered): the wait is bounded."""
    await migrate_history(settings.database_url)
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    deps.earlier_turns = nats_earlier_turns(nc, timeout=0.5)

    async def messages(rows: list[Recording]) -> tuple[list[int], bool]:
        (rec,) = [r for r in rows if r.format == "json"]
        doc = json.loads(b"".join([b async for b in await deps.blobs.open_range(rec.key, 0, rec.bytes)]))
        return [m["seq"] for m in doc["messages"]], doc["messages_truncated"]

    down = _cut_short("sess-down", kept=5)  # history not answering at all: the summary alone
    assert await messages(await store_session(down, deps, settle=True)) == (list(range(36, 41)), True)

    gap = _cut_short("sess-gap", kept=5)  # history never got turns 20-35
    history = history_engine(settings.database_url, pool_size=2)
    service = await start_request_service(nc, history, version="0.0.1", timeout=2)
    await _history(settings, "sess-gap", range(1, 20))
    with pytest.raises(WaitingForHistory):
        await store_session(gap, deps)
    assert await messages(await store_session(gap, deps, settle=True)) == ([*range(1, 20), *range(36, 41)], True)

    # The running consumer settles on the delivery its `wait_deliveries` names (20 in production).
    stop, late = asyncio.Event(), _cut_short("sess-late", kept=5)
    await nc.jetstream().publish(c.subject_for(late), c.encode(late), headers={"Nats-Msg-Id": str(late.event_id)})
    task = asyncio.create_task(recordings_consumer(nc, deps, wait_deliveries=2).run(stop))
    rows = await eventually(lambda: deps.repo.for_session("sess-late"), timeout=20, what="the session written")
    assert await messages(rows) == (list(range(36, 41)), True)  # history holds nothing of it
    stop.set()
    await task
    await service.stop()
    await history.dispose()
    await nc.close()
    await engine.dispose()
