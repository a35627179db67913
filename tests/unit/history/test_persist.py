"""History's use case, `persist` (through `plan`), with an in-memory store: idempotent and order-tolerant."""

from __future__ import annotations

import random
from datetime import timedelta

import msgspec

import parley_contracts as c
from parley_history.handlers import persist, plan
from tests.support.events import T0, analyzed, ended, joined, started, turn

from .fakes import MemoryHistoryStore

CALL: list[c.Event] = [
    started("c1", "s1", user="ada"),
    *(turn("c1", "s1", n) for n in range(1, 5)),
    ended("c1", "s1", 4),
]


def _state(store: MemoryHistoryStore) -> tuple[object, ...]:
    sessions = {k: (s.row.room_name, s.row.user_id, s.end.reason if s.end else None) for k, s in store.sessions.items()}
    conversations = {k: (v.user_id, v.first_at, v.last_at) for k, v in store.conversations.items()}
    return conversations, sessions, sorted(store.turns)


async def test_a_batch_redelivered_and_duplicated_is_stored_once() -> None:
    store = MemoryHistoryStore()
    for batch in (CALL, CALL, CALL[1:3]):
        await persist(batch, store)
    assert sorted(store.turns) == [("s1", n) for n in range(1, 5)]
    assert store.sessions["s1"].end is not None and store.conversations["c1"].user_id == "ada"


async def test_any_order_and_any_batching_end_in_the_same_state() -> None:
    reference = MemoryHistoryStore()
    await persist(CALL, reference)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = rng.sample(CALL, len(CALL))
        cut = rng.randrange(1, len(CALL))
        store = MemoryHistoryStore()
        for batch in (shuffled[:cut], shuffled[cut:]):
            await persist(batch, store)
        assert _state(store) == _state(reference)


async def test_a_seq_emitted_again_under_a_new_event_id_is_not_stored_twice() -> None:
    store = MemoryHistoryStore()
    await persist([turn("c1", "s1", 1, "first")], store)
    await persist([turn("c1", "s1", 1, "re-emitted")], store)
    assert [t.text for t in store.turns.values()] == ["first"]


async def test_historys_end_for_a_lost_agent_never_replaces_the_agents_own() -> None:
    own = ended("c1", "s1", 4)
    lost = msgspec.structs.replace(ended("c1", "s1", 4), reason=c.AGENT_LOST, producer="history")
    for order in ([own, lost], [lost, own]):
        store = MemoryHistoryStore()
        await persist([started("c1", "s1"), order[0]], store)
        await persist([order[1]], store)
        end = store.sessions["s1"].end
        assert end is not None and end.reason == "participant_disconnected"
    assert plan([own, lost]).ends["s1"].reason == "participant_disconnected"  # in one batch too


async def test_events_history_does_not_store_write_nothing() -> None:
    store = MemoryHistoryStore()
    await persist([joined("c1", "s1")], store)
    assert store.writes == 0 and store.conversations == {}


async def test_a_conversation_spans_its_first_and_last_event() -> None:
    store = MemoryHistoryStore()
    await persist([turn("c1", "s1", 2, at=T0 + timedelta(minutes=5))], store)
    await persist([turn("c1", "s1", 1, at=T0)], store)
    conv = store.conversations["c1"]
    assert (conv.first_at, conv.last_at) == (T0, T0 + timedelta(minutes=5))


async def test_the_newest_analysis_of_a_session_is_kept_whatever_the_order() -> None:
    first, second = analyzed("c1", "s1", 1, summary="first"), analyzed("c1", "s1", 2, summary="second")
    for batches in ([[first], [second]], [[second], [first]], [[first, second, first]]):
        store = MemoryHistoryStore()
        await persist(CALL, store)
        for batch in batches:
            await persist(batch, store)
        assert store.analyses["s1"].summary == "second"
    assert plan([second, first]).analyses["s1"].revision == 2


async def test_an_analysis_arriving_before_its_session_leaves_a_session_to_fill() -> None:
    store = MemoryHistoryStore()
    await persist([analyzed("c1", "s1")], store)
    await persist(CALL, store)
    assert store.sessions["s1"].row.room_name == "room-s1" and "s1" in store.analyses
