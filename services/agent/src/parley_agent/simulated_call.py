"""A headless call: the simulated caller's utterances through the same session, tracker, recorder and outbox.

With the offline providers the caller types (`session.run(user_input=...)`); with the local ones it speaks: each
utterance is synthesized (or read from a WAV file) and played into the call's audio input in real time, after
the agent's reply has ended and a natural pause, so the agent hears it through VAD, turn detection and speech
recognition. With `barge_in` the caller starts each next utterance while the agent is still answering the last,
which the agent must stop for.

A call taken over from a lost agent goes on from where it was cut: lines the interrupted session heard are not
said again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livekit.agents import AgentSession
from livekit.agents.voice.events import AgentStateChangedEvent
from livekit.agents.voice.transcription import TranscriptSynchronizer

from parley_agent.caller import SpeakingCaller, read_wav, resample
from parley_agent.local_voice import LocalModels
from parley_agent.offline import SimulatedCallerAudio, SimulatedSpeaker

logger = logging.getLogger(__name__)

PAUSE_SECONDS = 0.5  # between the agent's last word and the caller's next
BARGE_IN_AFTER_SECONDS = 0.8  # how long the agent speaks before the caller cuts in
REPLY_TIMEOUT_SECONDS = 30.0  # a reply that never comes does not hold the call forever


@dataclass(frozen=True)
class Utterance:
    text: str | None = None
    wav: Path | None = None

    @classmethod
    def parse(cls, item: object) -> Utterance | None:
        """An item of a room's `simulation` list: a line of text, or `{"wav": "/path/to/file.wav"}`."""
        if isinstance(item, str):
            return cls(text=item)
        if isinstance(item, dict) and isinstance(item.get("wav"), str):
            return cls(wav=Path(item["wav"]))
        return None


def caller_input(local: LocalModels | None) -> SpeakingCaller | SimulatedCallerAudio:
    return SpeakingCaller() if local is not None else SimulatedCallerAudio()


def still_to_say(utterances: list[Utterance], said: list[str]) -> list[Utterance]:
    """The script's utterances after the last one the interrupted session heard."""
    last = max((i for i, u in enumerate(utterances) if u.text is not None and u.text in said), default=-1)
    return utterances[last + 1 :]


class AgentStates:
    """The agent's state changes, to wait on: the caller speaks when the agent has finished, or cuts in."""

    def __init__(self, session: AgentSession[Any]) -> None:
        self.changed = asyncio.Event()
        self.session = session
        self.spoke_since = False
        session.on("agent_state_changed", self._on)

    def _on(self, ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self.spoke_since = True
        self.changed.set()

    async def until(self, done: Any, timeout: float = REPLY_TIMEOUT_SECONDS) -> bool:
        """Wait until `done()` holds; False after `timeout` (the call goes on rather than hang)."""
        try:
            async with asyncio.timeout(timeout):
                while not done():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            logger.warning("the simulated caller stopped waiting for the agent")
            return False
        return True

    async def replied(self) -> bool:
        """Until the agent has answered (spoken) and is listening again."""
        return await self.until(lambda: self.spoke_since and self.session.agent_state == "listening")


async def speak(
    session: AgentSession[Any],
    caller: SpeakingCaller,
    local: LocalModels,
    utterances: list[Utterance],
    *,
    barge_in: bool,
    hung_up: Any,
) -> None:
    """Say each utterance into the call, as a person on the phone would."""
    states = AgentStates(session)
    await states.until(lambda: session.agent_state == "listening")
    for i, utterance in enumerate(utterances):
        if hung_up():
            return
        pcm = await asyncio.to_thread(_audio, local, utterance)
        if barge_in and i > 0:
            await states.until(lambda: session.agent_state == "speaking")
            await asyncio.sleep(BARGE_IN_AFTER_SECONDS)  # the agent is mid-sentence when the caller cuts in
        else:
            await asyncio.sleep(PAUSE_SECONDS)
        states.spoke_since = False
        await caller.say(pcm)
        if not barge_in or i == len(utterances) - 1:
            await states.replied()


def _audio(local: LocalModels, utterance: Utterance) -> bytes:
    if utterance.wav is not None:
        return read_wav(utterance.wav)
    chunks = local.synthesize(utterance.text or "", length_scale=1.05)  # a little slower than the agent's voice
    return resample(b"".join(chunks), local.voice_rate)


def attach_speaker(session: AgentSession[Any], *, spoken: bool) -> None:
    """The caller's loudspeaker as the session's audio output. When the agent speaks (`spoken`), its words are
    timed against the audio as in a room, so a reply cut short is stored with the words the caller heard."""
    loudspeaker = SimulatedSpeaker()
    if not spoken:
        session.output.audio = loudspeaker
        return
    synchronizer = TranscriptSynchronizer(next_in_chain_audio=loudspeaker, next_in_chain_text=None)
    session.output.audio = synchronizer.audio_output
    session.output.transcription = synchronizer.text_output
