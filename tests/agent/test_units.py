"""Pure pieces of the agent: call state, room metadata, settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parley_agent.__main__ import main as agent_main
from parley_agent.history_client import preload
from parley_agent.metadata import parse_room_metadata
from parley_agent.settings import load
from parley_agent.state import CallState
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.settings import SettingsError

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _state(max_messages: int = 5000) -> CallState:
    return CallState(conversation_id="c", session_id="s", room_name="r", session_start=T0, max_messages=max_messages)


def test_messages_get_consecutive_seq_numbers() -> None:
    state = _state()
    assert [state.add_message("user", "a", T0).seq, state.add_message("assistant", "b", T0).seq] == [1, 2]
    assert state.turn_count == 2


def test_memory_is_bounded_and_the_summary_says_it_was_truncated() -> None:
    state = _state(max_messages=100)
    for i in range(1000):
        state.add_message("user", f"message {i}", T0)
    assert len(state.conversation_history) == 100
    assert state.turn_count == 1000
    messages, truncated = state.summary_messages()
    assert truncated
    assert messages[-1].seq == 1000


def test_summary_keeps_the_newest_messages_that_fit_the_byte_budget() -> None:
    state = _state()
    for _ in range(10):
        state.add_message("user", "x" * 1000, T0)
    messages, truncated = state.summary_messages(max_summary_bytes=3500)
    assert [m.seq for m in messages] == [8, 9, 10]
    assert truncated


def test_participants_join_leave_and_rejoin() -> None:
    state = _state()
    assert state.participant_joined("ada", "standard", T0)
    assert not state.participant_joined("ada", "standard", T0)
    assert state.participant_left("ada", T0) is not None
    assert state.participant_left("ada", T0) is None
    assert state.participant_joined("ada", "standard", T0)
    assert [p.identity for p in state.still_present()] == ["ada"]


@pytest.mark.parametrize("raw", [None, "", "not json", "[1,2]", '{"conversation_id": "bad id!"}', '{"user_id": 5}'])
def test_broken_room_metadata_starts_a_new_conversation_instead_of_crashing(raw: str | None) -> None:
    meta = parse_room_metadata(raw)
    assert meta.generated_conversation_id
    assert len(meta.conversation_id) == 36


def test_room_metadata_is_read() -> None:
    meta = parse_room_metadata(
        '{"conversation_id": "conv-7", "user_id": "ada", "instructions": "Be kind", "language": "fr"}'
    )
    assert (meta.conversation_id, meta.user_id, meta.instructions, meta.language) == ("conv-7", "ada", "Be kind", "fr")
    assert not meta.generated_conversation_id


def test_room_metadata_text_loses_its_nul_characters() -> None:
    meta = parse_room_metadata('{"conversation_id": "conv-7", "user_id": "ada\\u0000", "language": "\\u0000"}')
    assert (meta.user_id, meta.language) == ("ada", None)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "AGENT_DEEPGRAM_API_KEY"),
        ({"AGENT_DEEPGRAM_API_KEY": "k"}, "AGENT_ELEVENLABS_API_KEY"),
        ({"AGENT_DEEPGRAM_API_KEY": "k", "AGENT_ELEVENLABS_API_KEY": "k"}, "AGENT_LLM_API_KEY"),
    ],
)
def test_live_providers_without_keys_fail_at_start_naming_the_variable(env: dict[str, str], missing: str) -> None:
    with pytest.raises(SettingsError, match=missing):
        load(env)


def test_offline_providers_need_no_keys_and_a_local_llm_needs_no_key() -> None:
    assert load({"AGENT_PROVIDERS": "offline"}).providers == "offline"
    live = load(
        {
            "AGENT_DEEPGRAM_API_KEY": "k",
            "AGENT_ELEVENLABS_API_KEY": "k",
            "AGENT_LLM_BASE_URL": "http://127.0.0.1:11434/v1",
        }
    )
    assert live.llm_base_url


def test_worker_mode_requires_livekit_and_reads_the_standard_variables() -> None:
    settings = load({"AGENT_PROVIDERS": "offline"})
    with pytest.raises(SettingsError, match="AGENT_LIVEKIT_URL"):
        settings.require_livekit()
    settings = load(
        {"AGENT_PROVIDERS": "offline", "LIVEKIT_URL": "ws://x", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}
    )
    settings.require_livekit()


async def test_a_history_limit_of_zero_asks_history_nothing(caplog: pytest.LogCaptureFixture) -> None:
    # An outbox that never connects: asking would wait out the timeout and log history as unavailable.
    outbox = Outbox(NatsSettings(url="nats://127.0.0.1:9"), name="t")
    loaded = await preload(outbox, "conv-1", limit=0, timeout=0.2)
    assert (loaded.turns, loaded.outcome) == ([], "off")
    assert not [r for r in caplog.records if "history unavailable" in r.getMessage()]


async def test_history_down_starts_the_call_empty_and_says_why(caplog: pytest.LogCaptureFixture) -> None:
    outbox = Outbox(NatsSettings(url="nats://127.0.0.1:9"), name="t")
    loaded = await preload(outbox, "conv-1", limit=20, timeout=0.2)
    assert (loaded.turns, loaded.outcome) == ([], "timeout")
    assert [r for r in caplog.records if "history unavailable" in r.getMessage()]


@pytest.mark.parametrize("count", ["-1", "x"])
def test_simulate_refuses_a_count_that_is_no_whole_number(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        agent_main(["simulate", "-n", count])
    assert exited.value.code == 2
    assert "not a whole number of 0 or more" in capsys.readouterr().err
