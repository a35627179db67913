"""The local voice's pure parts: word timings and waits on the turns, the settings check, the error rate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from livekit.agents.llm import ChatMessage

import parley_contracts as c
from parley_agent import __main__ as agent_cli
from parley_agent.simulated_call import Utterance, still_to_say
from parley_agent.state import CallState
from parley_agent.tracker import CallTracker
from parley_devstack.speech import corpus_error_rate, word_error_rate

T0 = datetime(2026, 12, 7, 10, tzinfo=UTC)
SPOKE_AT = 1_800_000_000.0  # Unix seconds


def _tracker() -> tuple[CallTracker, list[c.Event]]:
    events: list[c.Event] = []
    return CallTracker(CallState("conv", "sess", "room", T0), events.append, agent_name="front-desk"), events


def _message(role: str, text: str, **metrics: Any) -> ChatMessage:
    return ChatMessage(role=role, content=[text], metrics=metrics)  # type: ignore[arg-type]


def test_the_words_heard_go_on_the_next_callers_turn_in_seconds_from_its_start() -> None:
    tracker, events = _tracker()
    tracker.heard([("Friday", SPOKE_AT + 0.25, SPOKE_AT + 0.7), ("morning", SPOKE_AT + 0.7, SPOKE_AT + 1.2)])
    tracker.record_message(_message("user", "Friday morning", started_speaking_at=SPOKE_AT), "Friday morning")
    tracker.record_message(_message("assistant", "Done."), "Done.")
    user, reply = events
    assert isinstance(user, c.TurnCompleted) and isinstance(reply, c.TurnCompleted)
    assert user.words == [
        c.WordTiming(word="Friday", start=0.25, end=0.7),
        c.WordTiming(word="morning", start=0.7, end=1.2),
    ]
    assert reply.words is None  # the agent's own words are not the recognizer's


def test_a_reply_the_framework_does_not_time_gets_the_callers_wait_from_the_turns() -> None:
    """A new agent's first words after a handoff answer the caller; the framework times only its own replies."""
    tracker, events = _tracker()
    tracker.record_message(_message("user", "Book me in", stopped_speaking_at=SPOKE_AT), "Book me in")
    tracker.record_message(_message("assistant", "Booking here.", started_speaking_at=SPOKE_AT + 1.5), "Booking here.")
    tracker.record_message(_message("assistant", "Anything else?", started_speaking_at=SPOKE_AT + 9), "Anything else?")
    _, answer, follow_up = events
    assert isinstance(answer, c.TurnCompleted) and isinstance(follow_up, c.TurnCompleted)
    assert answer.metrics is not None and answer.metrics.e2e_latency == pytest.approx(1.5)
    assert follow_up.metrics is None  # it answers nothing the caller said


def test_the_frameworks_own_wait_is_kept() -> None:
    tracker, events = _tracker()
    tracker.record_message(_message("user", "Hi", stopped_speaking_at=SPOKE_AT), "Hi")
    reply = _message("assistant", "Hello", started_speaking_at=SPOKE_AT + 2, e2e_latency=0.8)
    tracker.record_message(reply, "Hello")
    answer = events[-1]
    assert isinstance(answer, c.TurnCompleted) and answer.metrics is not None
    assert answer.metrics.e2e_latency == 0.8


def test_the_local_voice_without_its_packages_fails_at_start_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(agent_cli, "installed", lambda: False)
    assert agent_cli.main(["simulate", "--providers", "local", "-n", "0", "--exit"]) == 2
    assert "AGENT_PROVIDERS=local needs the agent's local voice" in capsys.readouterr().err


def test_a_call_taken_over_says_only_what_the_lost_agent_did_not_hear() -> None:
    script = [Utterance(text="one"), Utterance(text="two"), Utterance(wav=None, text="three")]
    assert still_to_say(script, ["one", "two"]) == [Utterance(text="three")]
    assert still_to_say(script, []) == script
    assert Utterance.parse({"wav": "/tmp/a.wav"}) is not None and Utterance.parse(42) is None


def test_word_error_rate_counts_substitutions_deletions_and_insertions_over_the_words_said() -> None:
    assert word_error_rate("Hi, this is Ada.", "hi this is ada") == 0
    assert word_error_rate("move it to Friday", "move it Friday") == 0.25  # one deleted
    assert word_error_rate("move it to Friday", "move it to this Friday") == 0.25  # one inserted
    assert word_error_rate("account ending 42", "the count ending 42") == pytest.approx(2 / 3)
    assert corpus_error_rate([("a b", "a"), ("c d e f", "c d e f")]) == pytest.approx(1 / 6)


async def test_the_recorder_hands_its_frames_over_with_the_flush_in_one_batch_and_in_order() -> None:
    from livekit import rtc
    from livekit.agents.voice.recorder_io import recorder_io as lk

    from parley_agent import speech_recorder

    recorder = speech_recorder.SpeechRecorder(agent_session=None)
    frame = rtc.AudioFrame(b"\x00\x00" * 480, 24_000, 1, 480)
    captured = [lk._Captured(channel=i % 2, started_at=float(i), frame=frame) for i in range(6)]
    for item in captured:
        recorder._put(item)
    assert recorder._q.empty()  # no wake-up of the encode thread per frame
    flush = lk._Flush(until=6.0)
    recorder._put(flush)
    assert list(recorder._q.queue) == [*captured, flush]
    assert recorder._sample_rate == speech_recorder.SAMPLE_RATE


def test_installing_the_speech_recorder_replaces_the_sessions_recorder() -> None:
    from livekit.agents.voice import agent_session

    from parley_agent import speech_recorder

    speech_recorder.install()
    assert speech_recorder.installed()
    assert agent_session.RecorderIO is speech_recorder.SpeechRecorder  # type: ignore[attr-defined]
