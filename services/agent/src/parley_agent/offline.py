"""The `offline` provider set: a scripted LLM, a tone TTS and a simulated caller's audio.

With these the whole pipeline (job lifecycle, AgentSession, recording, events) runs with no API keys
and no LiveKit server: `make dev` simulations and the tests use them.
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from typing import Any

from livekit import rtc
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, llm, tts, utils
from livekit.agents.llm import ChatContext, CompletionUsage
from livekit.agents.voice.io import AudioInput, AudioOutput, AudioOutputCapabilities

SAMPLE_RATE = 24_000


class ScriptedLLM(llm.LLM[Any]):
    """Answers from a list of replies in turn (or echoes), streaming word by word.

    `{n_prior}` in a reply is replaced by the number of earlier messages the model was given, which lets
    tests and demos see that the seeded history reached the model.
    """

    def __init__(self, replies: list[str] | None = None) -> None:
        super().__init__()
        self.replies = replies or ['You said "{last}". How else can I help?']
        self.calls: list[list[tuple[str, str]]] = []

    @property
    def model(self) -> str:
        return "scripted"

    @property
    def provider(self) -> str:
        return "parley-offline"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[Any] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **kwargs: Any,
    ) -> llm.LLMStream:
        return _ScriptedStream(self, chat_ctx=chat_ctx, tools=tools or [], conn_options=conn_options)


class _ScriptedStream(llm.LLMStream):
    async def _run(self) -> None:
        model: ScriptedLLM = self._llm  # type: ignore[assignment]
        messages = [(str(m.role), m.text_content or "") for m in self._chat_ctx.messages()]
        model.calls.append(messages)
        dialogue = [m for m in messages if m[0] in ("user", "assistant")]
        last = dialogue[-1][1] if dialogue else ""
        template = model.replies[(len(model.calls) - 1) % len(model.replies)]
        reply = template.replace("{last}", last).replace("{n_prior}", str(max(0, len(dialogue) - 1)))
        words = reply.split(" ")
        for i, word in enumerate(words):
            delta = llm.ChoiceDelta(role="assistant", content=word + (" " if i < len(words) - 1 else ""))
            self._event_ch.send_nowait(llm.ChatChunk(id="scripted", delta=delta))
        self._event_ch.send_nowait(
            llm.ChatChunk(
                id="scripted",
                usage=CompletionUsage(
                    completion_tokens=len(words),
                    prompt_tokens=sum(len(t.split()) for _, t in messages),
                    total_tokens=len(words) + sum(len(t.split()) for _, t in messages),
                ),
            )
        )


class ToneTTS(tts.TTS[Any]):
    """A 'voice' that is a soft 440 Hz tone, 15 ms per character (at most 1.5 s): real audio, no model."""

    def __init__(self, *, ms_per_char: float = 15.0, max_seconds: float = 1.5) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=SAMPLE_RATE, num_channels=1)
        self.ms_per_char = ms_per_char
        self.max_seconds = max_seconds

    @property
    def model(self) -> str:
        return "tone"

    @property
    def provider(self) -> str:
        return "parley-offline"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _ToneStream(tts=self, input_text=text, conn_options=conn_options)


class _ToneStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine: ToneTTS = self._tts  # type: ignore[assignment]
        seconds = min(engine.max_seconds, len(self._input_text) * engine.ms_per_char / 1000)
        n = int(SAMPLE_RATE * seconds)
        step = 2 * math.pi * 440 / SAMPLE_RATE
        pcm = struct.pack(f"<{n}h", *(int(2500 * math.sin(step * i)) for i in range(n)))
        output_emitter.initialize(
            request_id=utils.shortuuid(), sample_rate=SAMPLE_RATE, num_channels=1, mime_type="audio/pcm"
        )
        output_emitter.push(pcm)
        output_emitter.flush()


class SimulatedCallerAudio(AudioInput):
    """The caller's microphone in a simulation: real-time 20 ms frames of near-silence."""

    def __init__(self) -> None:
        super().__init__(label="simulated-caller")

    async def __anext__(self) -> rtc.AudioFrame:
        await asyncio.sleep(0.02)
        return rtc.AudioFrame(data=b"\x00\x00" * 320, sample_rate=16_000, num_channels=1, samples_per_channel=320)


class SimulatedSpeaker(AudioOutput):
    """The caller's loudspeaker in a simulation: 'plays' frames in real time and reports playback."""

    def __init__(self) -> None:
        super().__init__(label="simulated-speaker", capabilities=AudioOutputCapabilities(pause=False))
        self._queued = 0.0
        self._started = 0.0
        self._timer: asyncio.TimerHandle | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if not self._queued:
            self._started = time.time()
            self.on_playback_started(created_at=self._started)
        self._queued += frame.duration

    def flush(self) -> None:
        super().flush()
        if not self._queued:
            return
        played = self._queued

        def finished() -> None:
            self._queued = 0.0
            self.on_playback_finished(playback_position=played, interrupted=False)

        if self._timer:
            self._timer.cancel()
        remaining = max(0.0, played - (time.time() - self._started))
        self._timer = asyncio.get_running_loop().call_later(remaining, finished)

    def clear_buffer(self) -> None:
        if not self._queued:
            return
        if self._timer:
            self._timer.cancel()
            self._timer = None
        position = min(self._queued, time.time() - self._started)
        self._queued = 0.0
        self.on_playback_finished(playback_position=position, interrupted=True)
