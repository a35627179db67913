"""Every released event type has a golden payload that today's decoder must still accept.

Golden files are never edited: a change that breaks one of them breaks a consumer in production.
"""

from pathlib import Path

import pytest

import parley_contracts as c

GOLDEN = Path(__file__).parent / "golden"


def test_every_event_type_has_a_golden_file() -> None:
    assert {p.stem for p in GOLDEN.glob("*.json")} == {t.tag() for t in c.EVENT_TYPES}


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_payload_decodes_to_its_type(path: Path) -> None:
    event = c.decode(path.read_bytes())
    assert event.tag() == path.stem
    # Round trip: what we encode decodes to an equal event.
    assert c.decode(c.encode(event)) == event


def test_unknown_fields_are_ignored_so_producers_can_add_fields() -> None:
    raw = (GOLDEN / "turn_completed.v1.json").read_text()
    newer = raw.replace('"seq": 2,', '"seq": 2, "sentiment": "positive", "future": {"a": 1},')
    assert "sentiment" in newer
    event = c.decode(newer)
    assert isinstance(event, c.TurnCompleted)
    assert event.seq == 2
