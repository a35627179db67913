"""Every released event type has a golden payload that today's decoder must still accept.

Golden files are never edited: a change that breaks one of them breaks a consumer in production. A field added
to a type (with its default) comes with a golden file of its own, `<tag>+<what was added>.json`, so every field
of every type is in at least one payload the decoder must keep accepting.
"""

import json
from pathlib import Path

import pytest

import parley_contracts as c

GOLDEN = Path(__file__).parent / "golden"


def _tag(path: Path) -> str:
    return path.stem.partition("+")[0]


def test_every_event_type_has_a_golden_file() -> None:
    assert {_tag(p) for p in GOLDEN.glob("*.json")} == {t.tag() for t in c.EVENT_TYPES}


# Kept in the envelope, never set: a conversation-level event has no session.
ALWAYS_ABSENT = {(c.ConversationErased, "session_id")}


@pytest.mark.parametrize("event_type", c.EVENT_TYPES, ids=lambda t: t.tag())
def test_every_field_is_in_a_golden_file(event_type: type[c.Event]) -> None:
    seen = {name for kind, name in ALWAYS_ABSENT if kind is event_type}
    for path in GOLDEN.glob(f"{event_type.tag()}*.json"):
        if _tag(path) == event_type.tag():
            seen |= set(json.loads(path.read_text()))
    assert set(event_type.__struct_fields__) - seen == set(), "a field without a golden payload"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_payload_decodes_to_its_type(path: Path) -> None:
    event = c.decode(path.read_bytes())
    assert event.tag() == _tag(path)
    # Round trip: what we encode decodes to an equal event.
    assert c.decode(c.encode(event)) == event


def test_unknown_fields_are_ignored_so_producers_can_add_fields() -> None:
    raw = (GOLDEN / "turn_completed.v1.json").read_text()
    newer = raw.replace('"seq": 2,', '"seq": 2, "sentiment": "positive", "future": {"a": 1},')
    assert "sentiment" in newer
    event = c.decode(newer)
    assert isinstance(event, c.TurnCompleted)
    assert event.seq == 2
