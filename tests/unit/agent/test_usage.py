"""Usage a price table can price: livekit-agents' per-model running totals, per session and per turn."""

from __future__ import annotations

import pytest
from livekit.agents.metrics.usage import AgentSessionUsage, LLMModelUsage, STTModelUsage, TTSModelUsage

import parley_contracts as c
from parley_agent import usage
from parley_agent.metadata import parse_room_metadata


def _running(llm_out: int, tts_chars: int, stt_seconds: float) -> AgentSessionUsage:
    return AgentSessionUsage(
        model_usage=[
            LLMModelUsage(provider="openai", model="gpt-4.1-mini", input_tokens=900, input_cached_tokens=300,
                          output_tokens=llm_out),
            TTSModelUsage(provider="elevenlabs", model="eleven_flash_v2_5", characters_count=tts_chars,
                          audio_duration=tts_chars / 15),
            STTModelUsage(provider="deepgram", model="nova-3", audio_duration=stt_seconds),
        ]
    )  # fmt: skip


def test_a_sessions_usage_names_each_provider_and_model_in_billed_units() -> None:
    total = usage.totals(_running(120, 300, 42.5))
    assert (total.prompt_tokens, total.completion_tokens, total.tts_characters) == (900, 120, 300)
    assert total.stt_audio_seconds == pytest.approx(42.5)
    llm, tts, stt = total.items
    assert (llm.component, llm.provider, llm.model, llm.cached_input_tokens) == ("llm", "openai", "gpt-4.1-mini", 300)
    assert (tts.component, tts.characters) == ("tts", 300) and tts.audio_seconds == pytest.approx(20.0)
    assert (stt.component, stt.model) == ("stt", "nova-3") and stt.audio_seconds == pytest.approx(42.5)
    assert usage.totals(None) == c.Usage()


def test_a_turns_usage_is_what_the_totals_grew_by_and_an_unchanged_model_is_left_out() -> None:
    before = usage.totals(_running(100, 300, 40.0))
    grown = usage.since(usage.totals(_running(160, 300, 43.0)), before)
    assert [(i.component, i.output_tokens, i.audio_seconds) for i in grown.items] == [
        ("llm", 60, 0.0), ("stt", 0, pytest.approx(3.0)),
    ]  # fmt: skip
    assert (grown.completion_tokens, grown.prompt_tokens, grown.tts_characters) == (60, 0, 0)


def test_the_room_chooses_its_analysis_schema_by_name() -> None:
    assert parse_room_metadata('{"analysis_schema": "survey"}').analysis_schema == "survey"
    assert parse_room_metadata("{}").analysis_schema is None
