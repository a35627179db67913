"""The `offline` provider set: a scripted LLM, a tone TTS and a simulated caller's audio.

With these the whole pipeline (job lifecycle, AgentSession, recording, events) runs with no API keys
and no LiveKit server: `make dev` simulations and the tests use them.
"""

from __future__ import annotations

import asyncio
import json
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
    tests and demos see that the seeded history reached the model. Told what to say (a greeting, taking over a
    cut-off call, an agent handed the call), it says a fixed line of that kind, built from the conversation; and
    when the caller names what another agent does (a word that begins that agent's name: "book" for "booking")
    it calls the `transfer` tool, as a real model would.
    """

    def __init__(self, replies: list[str] | None = None, *, peers: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.replies = replies or ['You said "{last}". How else can I help?']
        self.peers = peers
        self.calls: list[list[tuple[str, str]]] = []
        self.answered = 0  # replies to the caller: the scripted list's position

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


def _instructed(instruction: str, dialogue: list[tuple[str, str]]) -> str:
    """The line a scripted model says when told what to say."""
    said = [text for role, text in dialogue if role == "user"]
    if "cut off" in instruction:
        asked = said[-1] if said else "your question"
        return f'Sorry, we were cut off. You were asking: "{asked}" Let us carry on from there.'
    if "handed this call" in instruction:
        name = instruction.split("You are the ", 1)[-1].split(" agent", 1)[0]
        return f"This is the {name} agent. I can take it from here."
    return "Welcome back! How can I help you today?" if dialogue else "Hello! How can I help you today?"


class _ScriptedStream(llm.LLMStream):
    async def _run(self) -> None:
        model: ScriptedLLM = self._llm  # type: ignore[assignment]
        messages = [(str(m.role), m.text_content or "") for m in self._chat_ctx.messages()]
        model.calls.append(messages)
        dialogue = [m for m in messages if m[0] in ("user", "assistant")]
        last = dialogue[-1][1] if dialogue else ""
        if messages and messages[-1][0] in ("system", "developer") and len(messages) > 1:
            self._say(_instructed(messages[-1][1], dialogue), messages)
            return
        items = self._chat_ctx.items
        after_a_tool = bool(items) and getattr(items[-1], "type", "") == "function_call_output"
        if after_a_tool:  # a handoff's tool ran: the next agent speaks now, not this one
            return
        peer = self._peer_asked_for(last) if dialogue and dialogue[-1][0] == "user" else None
        if peer is not None:
            call = llm.FunctionToolCall(
                name="transfer", arguments=json.dumps({"agent": peer, "reason": last[:80]}), call_id="transfer-1"
            )
            self._event_ch.send_nowait(llm.ChatChunk(id="scripted", delta=llm.ChoiceDelta(tool_calls=[call])))
            return
        template = model.replies[model.answered % len(model.replies)]
        model.answered += 1
        self._say(template.replace("{last}", last).replace("{n_prior}", str(max(0, len(dialogue) - 1))), messages)

    def _peer_asked_for(self, text: str) -> str | None:
        model: ScriptedLLM = self._llm  # type: ignore[assignment]
        offered = any(getattr(tool, "id", "") == "transfer" for tool in self._tools)
        words = {w.strip(".,!?\"'").lower() for w in text.split()}
        for peer in model.peers if offered else ():
            if any(len(w) >= 4 and peer.startswith(w) for w in words):
                return peer
        return None

    def _say(self, reply: str, messages: list[tuple[str, str]]) -> None:
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
