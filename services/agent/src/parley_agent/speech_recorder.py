"""The call's recorder, tuned for speech: livekit-agents' `RecorderIO` at 24 kHz with a speech encoder.

`AgentSession` records with `RecorderIO` at 48 kHz and libopus's defaults (full complexity, about 96 kbit/s
stereo), and hands its encode thread every 20 ms frame of each channel as it comes. A call's audio arrives at
24 kHz (LiveKit's room input, and most voices), so every frame was resampled up, encoded with more effort and
bits than a telephone voice needs, and each frame woke the thread. Measured on this machine, the recording was
nearly all Parley added to a call's CPU (`bench.voice_bench`, `docs/performance.md`). Here it records at
24 kHz (nothing to resample), with Opus in VoIP mode at 32 kbit/s and complexity 0 (speech stays clear: the
tests transcribe both channels back), and the frames reach the thread in batches (`SpeechRecorder._put`).

The session builds its recorder itself, so `install()` puts this one in its place (once per process, from the
worker's prewarm); the encoder's settings go through the `av` module the recorder sees, which only its encode
thread uses.
"""

from __future__ import annotations

from typing import Any

import av
from livekit.agents.voice import agent_session as session_module
from livekit.agents.voice.recorder_io import RecorderIO
from livekit.agents.voice.recorder_io import recorder_io as recorder_module

SAMPLE_RATE = 24_000
ENCODER_OPTIONS = {"application": "voip", "compression_level": "0"}
BIT_RATE = 32_000  # both channels


class SpeechRecorder(RecorderIO):
    """`RecorderIO` at 24 kHz, handing its encode thread the captured frames in batches.

    The framework's recorder queues each 20 ms frame of each channel as it comes, so its encode thread wakes a
    hundred times a second and takes the GIL from the call's loop each time, for work it only does when the
    writer flushes (every 2.5 s). Here the frames wait in a list on the loop's side and go to the thread with the
    flush, or with the end of a run, in one hand-over: the same items in the same order, one wake-up.
    """

    def __init__(self, *, agent_session: Any, **kwargs: Any) -> None:
        kwargs["sample_rate"] = SAMPLE_RATE
        super().__init__(agent_session=agent_session, **kwargs)
        self._held: list[Any] = []

    def _put(self, item: Any) -> None:
        if not self._encoding:
            self._held.clear()
            return
        if isinstance(item, recorder_module._Captured):
            self._held.append(item)
            return
        batch, self._held = [*self._held, item], []
        q = self._q
        with q.mutex:  # queue.Queue.put, for many items at once
            q.queue.extend(batch)
            q.unfinished_tasks += len(batch)
            q.not_empty.notify()


class _SpeechContainer:
    """An output container whose audio streams get the speech encoder's settings."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def __enter__(self) -> _SpeechContainer:
        self._container.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._container.__exit__(*exc)

    def add_stream(self, *args: Any, **kwargs: Any) -> Any:
        stream = self._container.add_stream(*args, **kwargs)
        stream.codec_context.bit_rate = BIT_RATE
        for name, value in ENCODER_OPTIONS.items():
            stream.codec_context.options[name] = value
        return stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)


class _SpeechAv:
    """The `av` module as the recorder sees it: the same, but for `open`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(av, name)

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return _SpeechContainer(av.open(*args, **kwargs))


def install() -> None:
    """Every `AgentSession` in this process records with `SpeechRecorder`."""
    session_module.RecorderIO = SpeechRecorder  # type: ignore[attr-defined]
    recorder_module.av = _SpeechAv()  # type: ignore[attr-defined,assignment]


def installed() -> bool:
    return session_module.RecorderIO is SpeechRecorder  # type: ignore[attr-defined]
