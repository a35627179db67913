"""STT, LLM, TTS and VAD for a session, from the settings: live plugins or the offline set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley_agent.offline import ScriptedLLM, ToneTTS
from parley_agent.settings import Settings


@dataclass
class ProviderSet:
    settings: Settings
    vad: Any = None  # loaded once per process (prewarm): Silero is a local model
    offline_replies: list[str] | None = None

    def session_kwargs(self, language: str | None, peers: tuple[str, ...] = ()) -> dict[str, Any]:
        """The session's providers; `peers`: the agents the call may be handed to (the scripted model knows
        when to)."""
        s = self.settings
        if s.providers == "offline":
            return {"llm": ScriptedLLM(self.offline_replies, peers=peers), "tts": ToneTTS()}
        from livekit.plugins import deepgram, elevenlabs, openai

        tts_kwargs: dict[str, Any] = {"api_key": s.elevenlabs_api_key, "model": s.elevenlabs_model}
        if s.elevenlabs_voice_id:
            tts_kwargs["voice_id"] = s.elevenlabs_voice_id
        llm_kwargs: dict[str, Any] = {"model": s.llm_model, "api_key": s.llm_api_key or "unused"}
        if s.llm_base_url:  # a local server still needs some key: the OpenAI client insists
            llm_kwargs["base_url"] = s.llm_base_url
        return {
            "stt": deepgram.STT(api_key=s.deepgram_api_key or "", model=s.deepgram_model, language=language or "en"),
            "llm": openai.LLM(**llm_kwargs),
            "tts": elevenlabs.TTS(**tts_kwargs),
            "vad": self.vad,
        }


def load_vad(settings: Settings) -> Any:
    if settings.providers == "offline":
        return None
    from livekit.plugins import silero

    return silero.VAD.load()
