"""History's request/reply over real NATS: `history.v1.recent` (last N turns oldest first) and
`history.v1.session_turns` (a session's earlier turns, a reply's worth at a time); errors never hang."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_contracts.history import SESSION_TURNS_REPLY_BYTES, RecentTurnsReply, SessionTurnsReply
from parley_contracts.streams import HISTORY_RECENT_SUBJECT, HISTORY_SESSION_TURNS_SUBJECT
from parley_history.db import make_engine
from parley_history.handlers import persist
from parley_history.request_reply import start_request_service
from parley_history.store import SqlHistoryStore

from .conftest import T0, started, turn


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


async def _ask(nc: Client, payload: bytes) -> Msg:
    return await nc.request(HISTORY_RECENT_SUBJECT, payload, timeout=2)


async def test_recent_returns_the_last_n_turns_oldest_first(nc: Client, engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    turns = [turn("c1", "s1", i) for i in range(1, 31)]
    last = turns[-1] = msgspec.structs.replace(turns[-1], ended_at=turns[-1].occurred_at + timedelta(seconds=4))
    await persist([started("c1", "s1"), *turns], store)
    await persist([started("c2", "s2"), turn("c2", "s2", 1)], store)
    service = await start_request_service(nc, engine, version="0.0.1", timeout=1)

    reply = msgspec.json.decode((await _ask(nc, b'{"conversation_id":"c1","limit":5}')).data, type=RecentTurnsReply)
    assert [t.seq for t in reply.turns] == [26, 27, 28, 29, 30]
    # A turn's time is its occurred_at (the message's `at` in the agent's summary), not when speech stopped.
    assert reply.turns[-1].at == last.occurred_at
    default = msgspec.json.decode((await _ask(nc, b'{"conversation_id":"c1"}')).data, type=RecentTurnsReply)
    assert [t.seq for t in default.turns] == list(range(11, 31))
    empty = msgspec.json.decode((await _ask(nc, b'{"conversation_id":"nobody"}')).data, type=RecentTurnsReply)
    assert empty.turns == []
    await service.stop()


async def test_a_sessions_earlier_turns_come_a_bounded_reply_at_a_time_oldest_first(
    nc: Client, engine: AsyncEngine
) -> None:
    store = SqlHistoryStore(engine)
    long = "x" * 20_000  # about 13 of these fit one reply
    await persist([started("c1", "s1"), *[turn("c1", "s1", i, f"{i} {long}") for i in range(1, 31)]], store)
    await persist([started("c1", "s2"), turn("c1", "s2", 1)], store)  # the conversation's next session
    service = await start_request_service(nc, engine, version="0.0.1", timeout=1)

    pages, before = [], 31
    while True:
        msg = await nc.request(HISTORY_SESSION_TURNS_SUBJECT, b'{"session_id":"s1","before_seq":%d}' % before, 2)
        reply = msgspec.json.decode(msg.data, type=SessionTurnsReply)
        if not reply.turns:
            break
        pages.append([t.seq for t in reply.turns])
        assert len(msg.data) < 1024 * 1024 and sum(len(t.text) for t in reply.turns) <= SESSION_TURNS_REPLY_BYTES
        before = reply.turns[0].seq
    assert [seq for page in reversed(pages) for seq in page] == list(range(1, 31))  # each once, in order
    assert len(pages) == 3 and pages[0] == list(range(18, 31))  # the newest below 31 that fit, first
    msg = await nc.request(HISTORY_SESSION_TURNS_SUBJECT, b'{"session_id":"s1","before_seq":3}', 2)
    assert [(t.seq, t.text[:2]) for t in msgspec.json.decode(msg.data, type=SessionTurnsReply).turns] == [
        (1, "1 "), (2, "2 ")]  # fmt: skip
    # 0, and a seq no turn can have (it answered 500, "history store unavailable", when it reached Postgres)
    for before_seq in (b"0", b"2147483648"):
        bad = await nc.request(HISTORY_SESSION_TURNS_SUBJECT, b'{"session_id":"s1","before_seq":%s}' % before_seq, 2)
        assert bad.headers is not None and bad.headers["Nats-Service-Error-Code"] == "400", before_seq
    await service.stop()


@pytest.mark.parametrize(
    "payload",
    [b"not json", b'{"limit":5}', b'{"conversation_id":"c1","limit":201}', b'{"conversation_id":"a.b"}'],
)
async def test_bad_request_is_a_400_service_error(nc: Client, engine: AsyncEngine, payload: bytes) -> None:
    service = await start_request_service(nc, engine, version="0.0.1", timeout=1)
    msg = await _ask(nc, payload)
    assert msg.headers is not None
    assert msg.headers["Nats-Service-Error-Code"] == "400"
    await service.stop()


async def test_store_unavailable_is_a_500_service_error_not_a_hang(nc: Client) -> None:
    dead = make_engine("postgresql://postgres@127.0.0.1:1/none", pool_size=1)
    service = await start_request_service(nc, dead, version="0.0.1", timeout=0.5)
    msg = await _ask(nc, b'{"conversation_id":"c1"}')
    assert msg.headers is not None
    assert msg.headers["Nats-Service-Error-Code"] == "500"
    await service.stop()
    await dead.dispose()


async def test_a_users_memory_spans_their_conversations_and_no_one_elses(nc: Client, engine: AsyncEngine) -> None:
    store = SqlHistoryStore(engine)
    await persist([started("ada-1", "s1", user="ada"), turn("ada-1", "s1", 1, "my name is Ada")], store)
    later = T0 + timedelta(days=1)
    await persist(
        [started("ada-2", "s2", user="ada", at=later), turn("ada-2", "s2", 1, "I live in Paris", at=later)], store
    )
    await persist([started("bob-1", "s3", user="bob"), turn("bob-1", "s3", 1, "I am Bob")], store)
    service = await start_request_service(nc, engine, version="0.0.1", timeout=1)

    asked = b'{"conversation_id":"ada-3","scope":"user","user_id":"ada"}'
    reply = msgspec.json.decode((await _ask(nc, asked)).data, type=RecentTurnsReply)
    assert [(t.conversation_id, t.text) for t in reply.turns] == [
        ("ada-1", "my name is Ada"),
        ("ada-2", "I live in Paris"),
    ]
    conversation = msgspec.json.decode((await _ask(nc, b'{"conversation_id":"ada-3"}')).data, type=RecentTurnsReply)
    assert conversation.turns == []  # the default scope: this conversation only
    refused = await _ask(nc, b'{"conversation_id":"ada-3","scope":"user"}')
    assert (refused.headers or {}).get("Nats-Service-Error-Code") == "400"
    await service.stop()
