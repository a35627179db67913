"""Redaction as logic: which types a call redacts, the spoken forms found, masks and their offsets, the caller's
words, the order events leave in, a failure that withholds rather than leaks, silenced audio. A fake detector
(regular expressions) stands in for Presidio, which tests/agent/test_redaction_presidio.py runs for real."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import av
import numpy as np
import pytest

import parley_contracts as c
from parley_agent.redaction import spoken
from parley_agent.redaction.audio import SilencedSpans, silence
from parley_agent.redaction.finds import Found
from parley_agent.redaction.policy import DEFAULT_TYPES, call_types, parse_types
from parley_agent.redaction.publisher import WITHHELD, RedactingPublisher
from parley_agent.redaction.redactor import Redactor

CARD = re.compile(r"\b4111[ -]?1111[ -]?1111[ -]?1111\b|\b4111111111111111\b")
EMAIL = re.compile(r"\b[\w.]+@[\w.]+\.\w+\b")
AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


class FakeDetector:
    """Cards of 4111... and e-mail addresses, as Presidio would report them."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find(self, text: str, types: frozenset[str]) -> list[Found]:
        self.asked.append(text)
        if "explode" in text:
            raise RuntimeError("a detector bug")
        found = [Found("CREDIT_CARD", m.start(), m.end(), 1.0) for m in CARD.finditer(text)]
        found += [Found("EMAIL_ADDRESS", m.start(), m.end(), 1.0) for m in EMAIL.finditer(text)]
        return [f for f in found if f.type in types]


def _redactor() -> Redactor:
    return Redactor(FakeDetector(), frozenset(DEFAULT_TYPES))


def test_the_deployments_types_are_checked_and_a_room_may_add_but_not_remove_them() -> None:
    assert parse_types("default") == frozenset(DEFAULT_TYPES)
    assert parse_types("default, us_passport") == frozenset(DEFAULT_TYPES) | {"US_PASSPORT"}
    assert parse_types("none") == frozenset()
    with pytest.raises(ValueError, match=r"unknown entity types \['CARDS'\]"):
        parse_types("CARDS")
    deployment = frozenset({"CREDIT_CARD"})
    assert call_types(deployment, ["US_PASSPORT", "MADE_UP"], [], rooms_may_remove=False) == {
        "CREDIT_CARD",
        "US_PASSPORT",
    }
    assert call_types(deployment, [], ["CREDIT_CARD"], rooms_may_remove=False) == {"CREDIT_CARD"}
    assert call_types(deployment, [], ["CREDIT_CARD"], rooms_may_remove=True) == frozenset()


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("four one one one one one one one one one one one one one one one", "4111111111111111"),
        ("it is 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "4111111111111111"),
        ("four one five, five five five, two six seven one", "4155552671"),
        ("double four one two, three four five six", "44123456"),
        ("forty one eleven, eleven eleven", "41111111"),
        ("ada dot lovelace at example dot com", "ada.lovelace@example.com"),
        ("ada underscore l at mail dot example dot org", "ada_l@mail.example.org"),
    ],
)  # fmt: skip
def test_spoken_forms_are_read_as_the_written_value_they_stand_for(text: str, written: str) -> None:
    assert [cand.written for cand in spoken.candidates(text)] == [written]


def test_small_numbers_and_plain_words_are_no_candidates() -> None:
    for text in ("a table for two at seven thirty", "I have 2 cats and 3 dogs", "room 12, floor 3", "oh, one moment"):
        assert spoken.candidates(text) == [], text


def test_masks_replace_the_values_and_the_redactions_say_where_each_mask_is() -> None:
    spoken_card = " ".join(["four"] + ["one"] * 15)
    text = f"card 4111 1111 1111 1111 and mail ada@example.com, or {spoken_card}"
    done = _redactor().redact(text)
    assert done.text == "card [CREDIT_CARD] and mail [EMAIL_ADDRESS], or [CREDIT_CARD]"
    assert [(r.type, done.text[r.start : r.end]) for r in done.redactions] == [
        ("CREDIT_CARD", "[CREDIT_CARD]"), ("EMAIL_ADDRESS", "[EMAIL_ADDRESS]"), ("CREDIT_CARD", "[CREDIT_CARD]"),
    ]  # fmt: skip


def test_a_long_spoken_number_no_recognizer_claims_is_masked_and_short_ones_are_kept() -> None:
    done = _redactor().redact("it is 415 -55 -2671 and we meet at 7 30")  # a phone number with a digit lost
    assert done.text == "it is [SPOKEN_NUMBER] and we meet at 7 30"
    card = _redactor().redact("my card number is 4 ,111 ,111 ,111 ,111")  # 13 digits: a card read out, misheard
    assert card.text == "my card number is [CREDIT_CARD]"


def test_a_turn_without_personal_data_is_unchanged() -> None:
    text = "Hello, I would like to book a table for two on Friday."
    done = _redactor().redact(text)
    assert done.text == text and done.redactions == [] and done.spans == []


def test_the_callers_masked_words_keep_their_times_and_lose_their_values() -> None:
    text = "my card is 4111 1111 1111 1111 thanks"
    words = [c.WordTiming(word=w, start=i * 0.5, end=i * 0.5 + 0.4) for i, w in enumerate(text.split())]
    redactor = _redactor()
    done = redactor.redact(text)
    masked = redactor.words(text, words, done.spans)
    assert [w.word for w in masked] == ["my", "card", "is"] + ["[CREDIT_CARD]"] * 4 + ["thanks"]
    assert [(w.start, w.end) for w in masked] == [(w.start, w.end) for w in words]


def _turn(seq: int, text: str, **more: object) -> c.TurnCompleted:
    return c.TurnCompleted(
        event_id=uuid4(), occurred_at=AT, conversation_id="c1", session_id="s1", producer="agent", seq=seq,
        role="user", text=text, **more,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_events_leave_redacted_and_in_order_and_drain_waits_for_the_last() -> None:
    published: list[c.Event] = []
    publisher = RedactingPublisher(published.append, _redactor())
    for seq in range(1, 51):
        publisher(_turn(seq, f"turn {seq}: card 4111 1111 1111 1111" if seq % 2 else f"turn {seq}: no data"))
    await publisher.drain()
    assert [e.seq for e in published] == list(range(1, 51))  # type: ignore[attr-defined]
    assert all("4111" not in e.text for e in published)  # type: ignore[attr-defined]
    assert published[1].text == "turn 2: no data"  # type: ignore[attr-defined]


async def test_a_failing_redaction_withholds_the_text_instead_of_leaking_it() -> None:
    published: list[c.Event] = []
    publisher = RedactingPublisher(published.append, _redactor())
    publisher(_turn(1, "please explode, card 4111 1111 1111 1111"))
    await publisher.drain()
    (turn,) = published
    assert isinstance(turn, c.TurnCompleted) and turn.text == WITHHELD


async def test_the_session_summary_is_redacted_like_its_turns() -> None:
    published: list[c.Event] = []
    publisher = RedactingPublisher(published.append, _redactor())
    message = c.MessageSummary(seq=1, role="user", text="mail ada@example.com", at=AT)
    publisher(c.SessionEnded(
        event_id=uuid4(), occurred_at=AT, conversation_id="c1", session_id="s1", producer="agent", reason="done",
        started_at=AT, ended_at=AT, duration_seconds=1, turn_count=1, messages=[message],
    ))  # fmt: skip
    await publisher.drain()
    (ended,) = published
    assert isinstance(ended, c.SessionEnded) and ended.messages[0].text == "mail [EMAIL_ADDRESS]"
    assert ended.messages[0].redactions == [c.Redaction(type="EMAIL_ADDRESS", start=5, end=20)]


def test_silenced_spans_come_from_masked_words_else_the_whole_turn() -> None:
    spans = SilencedSpans()
    redacted = _turn(1, "[CREDIT_CARD]", started_at=AT, ended_at=AT + timedelta(seconds=4),
                     redactions=[c.Redaction(type="CREDIT_CARD", start=0, end=13)])  # fmt: skip
    spans.add_turn(redacted, [c.WordTiming(word="[CREDIT_CARD]", start=1.0, end=2.0)])
    spans.add_turn(redacted, None)  # no timings: all of it
    spans.add_turn(_turn(2, "nothing", started_at=AT), None)  # nothing masked: nothing silenced
    start = AT.timestamp() - 10
    assert [(round(a, 2), round(b, 2)) for a, b in spans.relative_to(start)] == [(9.75, 14.25), (10.75, 12.25)]


def test_masked_words_of_one_value_are_silenced_as_one_span_pauses_included() -> None:
    spans = SilencedSpans()
    turn = _turn(1, "[CREDIT_CARD] [PHONE_NUMBER]", started_at=AT, ended_at=AT + timedelta(seconds=20),
                 redactions=[c.Redaction(type="CREDIT_CARD", start=0, end=13)])  # fmt: skip
    card = [c.WordTiming(word="[CREDIT_CARD]", start=1.0 + i, end=1.5 + i) for i in range(4)]  # pauses between
    phone = [c.WordTiming(word="[PHONE_NUMBER]", start=10.0, end=11.0)]
    spans.add_turn(turn, card + phone)
    start = AT.timestamp()
    assert [(round(a, 2), round(b, 2)) for a, b in spans.relative_to(start)] == [(0.75, 4.75), (9.75, 11.25)]


def test_silencing_zeroes_the_recording_within_the_spans_and_nowhere_else(tmp_path: Path) -> None:
    path = tmp_path / "call.ogg"
    with av.open(str(path), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=24000, layout="stereo")
        tone = (np.sin(2 * np.pi * 440 * np.arange(24000 * 3) / 24000) * 0.5).astype(np.float32)
        for i in range(0, tone.size, 480):
            frame = av.AudioFrame.from_ndarray(np.stack([tone[i : i + 480]] * 2), format="fltp", layout="stereo")
            frame.sample_rate = 24000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert silence(path, [(1.0, 2.0)]) > 0
    loudness: dict[int, list[float]] = {}
    with av.open(str(path)) as back:
        for frame in back.decode(back.streams.audio[0]):
            loudness.setdefault(int(frame.time or 0), []).append(float(np.abs(frame.to_ndarray()).mean()))
    mean = {second: sum(v) / len(v) for second, v in loudness.items()}
    assert mean[1] < 0.01 and mean[0] > 0.2 and mean[2] > 0.2


async def test_redaction_runs_off_the_calls_event_loop() -> None:
    seen: list[str] = []

    class Watching(FakeDetector):
        def find(self, text: str, types: frozenset[str]) -> list[Found]:
            seen.append(threading.current_thread().name)
            return super().find(text, types)

    publisher = RedactingPublisher(lambda e: None, Redactor(Watching(), frozenset(DEFAULT_TYPES)))
    publisher(_turn(1, "card 4111 1111 1111 1111"))
    await publisher.drain()
    assert seen and all(name.startswith("redaction") for name in seen)
