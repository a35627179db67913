"""STT, LLM, TTS, VAD and turn detection for a session, from the settings: one of three provider sets.

* `live`: Deepgram, ElevenLabs and any OpenAI-compatible LLM (keys required);
* `local`: real speech offline (`local_voice`: Whisper and piper, models in wheels), Silero VAD and LiveKit's
  local turn detector, and the scripted LLM (or any OpenAI-compatible server at `AGENT_LLM_BASE_URL`);
* `offline`: scripted text and a tone for a voice, for the fastest tests.

Models load once per process (`ProviderSet.load`, from the worker's prewarm); each session gets its own
provider objects around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Plugins register themselves on import, which livekit-agents allows on the main thread only: import them
# here, with the worker, not in a job's thread.
from livekit.agents import inference
from livekit.plugins import deepgram, elevenlabs, openai, silero

from parley_agent.local_voice import LocalModels, OnWords, PiperTTS, WhisperSTT
from parley_agent.offline import ScriptedLLM, ToneTTS
from parley_agent.settings import Settings


@dataclass
class ProviderSet:
    settings: Settings
    vad: Any = None  # loaded once per process (prewarm): Silero is a local model
    local: LocalModels | None = None
    offline_replies: list[str] | None = None

    @classmethod
    def load(cls, settings: Settings) -> ProviderSet:
        local = LocalModels.load() if settings.providers == "local" else None
        return cls(settings, vad=load_vad(settings), local=local)

    def session_kwargs(
        self, language: str | None, peers: tuple[str, ...] = (), on_words: OnWords | None = None
    ) -> dict[str, Any]:
        """The session's providers; `peers`: the agents the call may be handed to (the scripted model knows
        when to); `on_words`: told each word the local recognizer heard, with its times."""
        s = self.settings
        if s.providers == "offline":
            return {"llm": ScriptedLLM(self.offline_replies, peers=peers), "tts": ToneTTS()}
        if s.providers == "local":
            assert self.local is not None, "the local models load in the worker's prewarm"
            return {
                "stt": WhisperSTT(self.local, on_words),
                "llm": self._openai() if s.llm_base_url else ScriptedLLM(self.offline_replies, peers=peers),
                "tts": PiperTTS(self.local),
                "vad": self.vad,
                "turn_handling": {
                    "turn_detection": inference.TurnDetector(version="v1-mini"),
                    "interruption": {"mode": "vad"},
                },
            }
        tts_kwargs: dict[str, Any] = {"api_key": s.elevenlabs_api_key, "model": s.elevenlabs_model}
        if s.elevenlabs_voice_id:
            tts_kwargs["voice_id"] = s.elevenlabs_voice_id
        return {
            "stt": deepgram.STT(api_key=s.deepgram_api_key or "", model=s.deepgram_model, language=language or "en"),
            "llm": self._openai(),
            "tts": elevenlabs.TTS(**tts_kwargs),
            "vad": self.vad,
        }

    def _openai(self) -> Any:
        s = self.settings
        llm_kwargs: dict[str, Any] = {"model": s.llm_model, "api_key": s.llm_api_key or "unused"}
        if s.llm_base_url:  # a local server still needs some key: the OpenAI client insists
            llm_kwargs["base_url"] = s.llm_base_url
        return openai.LLM(**llm_kwargs)


def load_vad(settings: Settings) -> Any:
    if settings.providers == "offline":
        return None
    return silero.VAD.load()
