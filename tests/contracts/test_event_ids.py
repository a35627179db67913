"""Event ids: UUIDv7, so history's unique event_id index grows at its right edge."""

from __future__ import annotations

import time
import uuid

import parley_contracts as c


def test_event_ids_are_version_7_with_the_rfc_variant() -> None:
    event_id = c.new_event_id()

    assert event_id.version == 7
    assert event_id.variant == uuid.RFC_4122


def test_event_id_carries_the_current_unix_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    event_id = c.new_event_id()
    after = time.time_ns() // 1_000_000

    assert before <= event_id.int >> 80 <= after


def test_event_ids_made_a_millisecond_apart_sort_in_time_order() -> None:
    ids = []
    for _ in range(20):
        ids.append(c.new_event_id())
        time.sleep(0.002)

    assert ids == sorted(ids)
    assert [str(i) for i in ids] == sorted(str(i) for i in ids)  # the text form sorts the same way


def test_event_ids_made_in_the_same_millisecond_are_distinct() -> None:
    ids = [c.new_event_id() for _ in range(100_000)]

    assert len(set(ids)) == len(ids)
    assert len({i.int >> 80 for i in ids}) < len(ids)  # many shared a millisecond, and still differ


def test_a_derived_event_id_is_a_version_7_id_for_its_time_and_the_same_for_the_same_seed() -> None:
    at = c.utcnow()
    derived = c.derived_event_id("agent_lost:sess-1", at)

    assert (derived.version, derived.variant) == (7, uuid.RFC_4122)
    assert derived.int >> 80 == int(at.timestamp() * 1000)
    assert c.derived_event_id("agent_lost:sess-1", at) == derived
    assert c.derived_event_id("agent_lost:sess-2", at) != derived
