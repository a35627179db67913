"""Silence in a call's recording where personal data was said, before it is uploaded.

The spans come from the redacted turns (`SilencedSpans`): each masked word of the caller where the speech
recognizer timed its words, else the whole turn (a reply of the agent that repeated a card number has no word
timings); padded a little, since a recognizer's word edges are approximate. The recording is decoded, those
samples zeroed on both channels, and encoded again as the recorder does (Opus in Ogg, speech settings).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np

import parley_contracts as c
from parley_agent.speech_recorder import BIT_RATE, ENCODER_OPTIONS

PAD_SECONDS = 0.25
MAX_GAP_SECONDS = 2.0  # masked words further apart than this are two values, and the words between them kept


@dataclass
class SilencedSpans:
    """Wall-clock spans to silence, gathered from the turns as they are redacted."""

    spans: list[tuple[datetime, datetime]] = field(default_factory=list)

    def add_turn(self, turn: c.TurnCompleted, masked_words: list[c.WordTiming] | None) -> None:
        if not turn.redactions or turn.started_at is None:
            return
        at = turn.started_at
        if masked_words:
            # Masked words next to each other are one value: silenced from the first one's start to the last one's
            # end, pauses included, since a recognizer's word edges are approximate (a digit between two of them
            # would be heard otherwise).
            for first, last in runs(masked_words):
                self.spans.append((at + timedelta(seconds=first.start), at + timedelta(seconds=last.end)))
        elif turn.ended_at is not None:
            self.spans.append((turn.started_at, turn.ended_at))

    def relative_to(self, recording_started_at: float) -> list[tuple[float, float]]:
        """The spans in seconds from the recording's start, padded, in order."""
        start = recording_started_at
        return sorted(
            (max(0.0, a.timestamp() - start - PAD_SECONDS), b.timestamp() - start + PAD_SECONDS) for a, b in self.spans
        )


def runs(masked: list[c.WordTiming]) -> list[tuple[c.WordTiming, c.WordTiming]]:
    """Consecutive masked words of the same mask (the words `Redactor.words` masked, in order), first and last."""
    found: list[tuple[c.WordTiming, c.WordTiming]] = []
    for word in masked:
        if found and found[-1][1].word == word.word and word.start - found[-1][1].end <= MAX_GAP_SECONDS:
            found[-1] = (found[-1][0], word)
        else:
            found.append((word, word))
    return found


def silence(path: Path, spans: list[tuple[float, float]]) -> int:
    """Zero the recording's samples within `spans` (seconds from its start), in place; returns how many."""
    if not spans:
        return 0
    partial = path.with_suffix(".silencing.ogg")
    zeroed = 0
    with av.open(str(path)) as source, av.open(str(partial), "w", format="ogg") as target:
        stream = source.streams.audio[0]
        encoder = target.add_stream("libopus", rate=stream.rate, layout=stream.layout.name)
        encoder.bit_rate = BIT_RATE
        encoder.options = dict(ENCODER_OPTIONS)
        for frame in source.decode(stream):
            samples = frame.to_ndarray()
            times = (frame.time or 0.0) + np.arange(frame.samples) / frame.sample_rate
            mask = np.zeros(frame.samples, dtype=bool)
            for a, b in spans:
                mask |= (times >= a) & (times < b)
            if mask.any():
                samples = samples.copy()
                samples[..., mask] = 0
                zeroed += int(mask.sum())
            out = av.AudioFrame.from_ndarray(samples, format=frame.format.name, layout=frame.layout.name)
            out.sample_rate = frame.sample_rate
            for packet in encoder.encode(out):
                target.mux(packet)
        for packet in encoder.encode(None):
            target.mux(packet)
    os.replace(partial, path)
    return zeroed
