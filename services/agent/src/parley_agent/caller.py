"""A simulated caller who speaks: utterances played into the call's audio input in real time, as a microphone.

Each utterance is synthesized speech (the local voice) or a recorded WAV, resampled to the input's rate, and sent
as 20 ms frames on a fixed clock, silence between utterances, so the agent hears it through its VAD, turn
detector and speech recognition exactly as it would hear a person.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from livekit import rtc
from livekit.agents.voice.io import AudioInput

RATE = 24_000
FRAME_SAMPLES = RATE // 50  # 20 ms
FRAME_BYTES = FRAME_SAMPLES * 2


def resample(pcm: bytes, rate: int, channels: int = 1) -> bytes:
    """16-bit PCM at any rate and channel count as mono 16-bit PCM at `RATE`."""
    if channels > 1:
        import numpy as np

        pcm = np.frombuffer(pcm, dtype=np.int16).reshape(-1, channels).mean(axis=1).astype(np.int16).tobytes()
    if rate == RATE:
        return pcm
    resampler = rtc.AudioResampler(rate, RATE, num_channels=1)
    frames = [*resampler.push(rtc.AudioFrame(pcm, rate, 1, len(pcm) // 2)), *resampler.flush()]
    return b"".join(bytes(f.data) for f in frames)


def read_wav(path: Path) -> bytes:
    """A PCM WAV file (16-bit, any rate, mono or not) as mono 16-bit PCM at `RATE`."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: 16-bit PCM WAV expected, got {8 * wav.getsampwidth()}-bit")
        return resample(wav.readframes(wav.getnframes()), wav.getframerate(), wav.getnchannels())


class SpeakingCaller(AudioInput):
    """The caller's microphone: `say(pcm)` plays an utterance; silence otherwise."""

    def __init__(self) -> None:
        super().__init__(label="simulated-caller")
        self._pending = bytearray()
        self._drained: asyncio.Event | None = None
        self._next_at: float | None = None
        self.last_spoken_at = 0.0  # the loop time at which the last utterance's last frame went out

    async def say(self, pcm: bytes) -> float:
        """Play `pcm` (mono 16-bit at `RATE`) and return the loop time its last frame went out."""
        self._drained = asyncio.Event()
        self._pending += pcm
        await self._drained.wait()
        return self.last_spoken_at

    @property
    def speaking(self) -> bool:
        return bool(self._pending)

    async def __anext__(self) -> rtc.AudioFrame:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._next_at = max(self._next_at or now, now - 0.1)  # a fixed clock, which a stall does not make rush
        if self._next_at > now:
            await asyncio.sleep(self._next_at - now)
        self._next_at += FRAME_SAMPLES / RATE
        chunk = bytes(self._pending[:FRAME_BYTES])
        del self._pending[:FRAME_BYTES]
        if chunk and not self._pending and self._drained is not None:
            self.last_spoken_at = loop.time()
            self._drained.set()
        data = chunk.ljust(FRAME_BYTES, b"\x00")
        return rtc.AudioFrame(data=data, sample_rate=RATE, num_channels=1, samples_per_channel=FRAME_SAMPLES)
