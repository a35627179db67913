"""One voice call in a process of its own, with Parley (`parley`) or without (`bare`), for `voice_bench`.

Both run the same worker harness (an `AgentServer` running a fake job in a thread, as `simulate` does) with the
same caller, real Silero VAD and LiveKit's local turn detector, and stand-ins for speech recognition and
synthesis that answer at once, as a cloud STT and TTS would, from this process's point of view:

* `parley`: the agent's real entrypoint: the call's state and tracker, the events through the outbox to
  NATS, the recording encoded and uploaded, the room lease, the history preload;
* `bare`: an `AgentSession` with the same providers and nothing of Parley's.

Prints one JSON line: the CPU seconds the process and its children (the inference process) spent on the
call, and the peak resident memory of the process tree during it.

    python -m bench.voice_call parley|bare NATS_URL STATE_DIR
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import msgspec
import psutil
from livekit.agents import (
    DEFAULT_API_CONNECT_OPTIONS,
    Agent,
    AgentServer,
    AgentSession,
    APIConnectOptions,
    JobContext,
    JobExecutorType,
    JobProcess,
    inference,
    stt,
    tts,
    utils,
)
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, NotGivenOr
from livekit.plugins import silero

from parley_agent import worker
from parley_agent.caller import RATE, SpeakingCaller
from parley_agent.local_voice import LocalModels
from parley_agent.offline import ScriptedLLM
from parley_agent.providers import ProviderSet
from parley_agent.settings import Settings
from parley_agent.simulate import SimulatedCall, run_simulated_calls
from parley_agent.simulated_call import Utterance, attach_speaker, speak

LINES = [
    "Could you move my appointment to next Tuesday afternoon?",
    "My daughter has a swimming lesson on Friday morning.",
    "Please send the confirmation to my email address.",
]
REPLY = "Of course. I have moved it for you. Is there anything else I can help you with?"


class CannedVoice:
    """The caller's and the agent's speech, synthesized once before the call (piper), at the caller's rate."""

    voice_rate = RATE

    def __init__(self) -> None:
        from parley_agent.caller import resample

        models = LocalModels.load()
        self.audio = {text: resample(b"".join(models.synthesize(text)), models.voice_rate) for text in [*LINES, REPLY]}

    def synthesize(self, text: str, length_scale: float | None = None) -> list[bytes]:
        return [self.audio.get(text, self.audio[REPLY])]


class InstantSTT(stt.STT[Any]):
    """A recognizer elsewhere that answers at once: each utterance is the caller's next line."""

    def __init__(self) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self.heard = 0

    async def _recognize_impl(
        self,
        buffer: utils.AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
    ) -> stt.SpeechEvent:
        text = LINES[self.heard % len(LINES)]
        self.heard += 1
        data = stt.SpeechData(language=LanguageCode("en"), text=text)
        return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])


class InstantTTS(tts.TTS[Any]):
    """A synthesizer elsewhere that answers at once: every reply is the same recorded sentence."""

    def __init__(self, voice: CannedVoice) -> None:
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False), sample_rate=RATE, num_channels=1)
        self.voice = voice

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _Instant(tts=self, input_text=text, conn_options=conn_options)


class _Instant(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        engine: InstantTTS = self._tts  # type: ignore[assignment]
        output_emitter.initialize(request_id=utils.shortuuid(), sample_rate=RATE, num_channels=1, mime_type="audio/pcm")
        output_emitter.push(engine.voice.audio[REPLY])
        output_emitter.flush()


class BenchProviders(ProviderSet):
    """Real VAD and turn detection, instant STT and TTS, the scripted model."""

    def session_kwargs(self, language: str | None, peers: tuple[str, ...] = (), on_words: Any = None) -> dict[str, Any]:
        assert self.local is not None
        return {
            "stt": InstantSTT(),
            "llm": ScriptedLLM([REPLY]),
            "tts": InstantTTS(cast(CannedVoice, self.local)),
            "vad": self.vad,
            "turn_handling": {
                "turn_detection": inference.TurnDetector(version="v1-mini"),
                "interruption": {"mode": "vad"},
            },
        }


VOICE: list[CannedVoice] = []  # synthesized before the worker starts, outside the measured call
CALL_STARTED: list[tuple[float, float]] = []  # the process tree's CPU seconds when the job's entrypoint began


def prewarm(proc: JobProcess) -> None:
    worker.prewarm(proc)  # Parley's own start-up, for both: only the call differs
    settings: Settings = proc.userdata["settings"]
    proc.userdata["providers"] = BenchProviders(settings, vad=silero.VAD.load(), local=cast(LocalModels, VOICE[0]))


def measured(entry: Any) -> Any:
    async def entrypoint(ctx: JobContext) -> None:
        CALL_STARTED.append(tree_cpu())
        await entry(ctx)

    return entrypoint


async def bare_entrypoint(ctx: JobContext) -> None:
    """The same call as Parley's, through an `AgentSession` alone."""
    providers: BenchProviders = ctx.proc.userdata["providers"]
    assert providers.local is not None
    session: AgentSession[Any] = AgentSession(**providers.session_kwargs("en"))
    mic = SpeakingCaller()
    session.input.audio = mic
    attach_speaker(session, spoken=True)
    await session.start(Agent(instructions="You are a helpful voice assistant."), record=False)
    await session.generate_reply(instructions="Greet the caller.")
    await speak(session, mic, providers.local, [Utterance(text=line) for line in LINES], barge_in=False,
                hung_up=lambda: False)  # fmt: skip
    await session.aclose()
    ctx.shutdown("participant_disconnected")


class PeakMemory:
    """The peak resident memory of this process, read every 250 ms on a thread (a small file read)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.25):
            resident = int(Path("/proc/self/statm").read_text().split()[1]) * page
            self.peak = max(self.peak, resident)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its children (the inference process running the turn detector)."""
    me = psutil.Process()
    own = me.cpu_times()
    children = 0.0
    for p in me.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            children += times.user + times.system
    return own.user + own.system, children


async def run(mode: str, nats_url: str, state: Path) -> dict[str, float]:
    # Redaction off: its own cost (a detector per process, milliseconds a turn) is `bench.redaction_bench`'s.
    settings = Settings(nats_url=nats_url, state_dir=str(state), providers="offline", record_audio=True, redact="none")
    os.environ[worker.SETTINGS_ENV] = msgspec.json.encode(settings).decode()
    os.environ[worker.WORKER_PID_ENV] = str(os.getpid())
    server = AgentServer(host="127.0.0.1", port=0, setup_fnc=prewarm, job_executor_type=JobExecutorType.THREAD)
    entry = worker.entrypoint if mode == "parley" else bare_entrypoint
    server.rtc_session(agent_name=settings.agent_name, on_session_end=worker.on_session_end)(measured(entry))
    started = asyncio.Event()
    server.once("worker_started", started.set)
    serving = asyncio.create_task(server.run(devmode=True, unregistered=True))
    await started.wait()
    call = SimulatedCall(room="bench-room", conversation_id="bench-call", user_id="bench", lines=list(LINES))
    with PeakMemory() as memory:
        t0 = time.monotonic()
        await run_simulated_calls(server, [call], timeout=180)
        (own, children), seconds = tree_cpu(), time.monotonic() - t0
    own, children = own - CALL_STARTED[0][0], children - CALL_STARTED[0][1]
    await server.aclose()
    serving.cancel()
    return {
        "cpu_seconds": own + children,
        "cpu_seconds_children": children,
        "wall_seconds": seconds,
        "peak_rss_mb": memory.peak / 2**20,
    }


if __name__ == "__main__":
    mode, url, state_dir = sys.argv[1:4]
    VOICE.append(CannedVoice())
    print(json.dumps(asyncio.run(run(mode, url, Path(state_dir)))), flush=True)
