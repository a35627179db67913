"""Real speech through the agent (`AGENT_PROVIDERS=local`): a simulated caller speaks into the call, the agent
hears it through VAD, turn detection and Whisper, answers in piper's voice, and the platform stores it all.

One stack (NATS, Postgres, history, recordings) takes three spoken calls at once: a plain one, one whose
caller cuts the agent off, and one whose caller plays a WAV recorded at telephone quality.
"""

from __future__ import annotations

import io
import itertools
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from livekit import rtc

from parley_agent.local_voice import LocalModels
from parley_devstack.speech import corpus_error_rate, words
from parley_devstack.stack import Stack
from tests.support import eventually_blocking
from tests.support.processes import saying, start_simulation

pytestmark = pytest.mark.slow

SAID = [
    "Could you move my appointment to next Tuesday afternoon?",
    "My daughter has a swimming lesson on Friday morning.",
    "Please send the confirmation to my email address.",
]
BARGE_IN = ["I would like to change my booking please.", "Actually, wait, I need Thursday instead."]
PHONE_LINE = "I am calling about the invoice I received last week."


@dataclass
class Calls:
    history: httpx.Client
    objects: Path
    models: LocalModels
    conversations: dict[str, str]  # what each call is for -> its conversation id

    def turns(self, which: str) -> list[dict[str, Any]]:
        r = self.history.get(f"/v1/conversations/{self.conversations[which]}/turns", params={"limit": 50})
        return list(r.json()["items"]) if r.status_code == 200 else []

    def has_turns(self, which: str, count: int) -> bool:
        return len(self.turns(which)) >= count


def _phone_wav(models: LocalModels, text: str, path: Path) -> Path:
    """`text` in piper's voice, as an 8 kHz mono WAV (a telephone line's rate: the caller resamples it)."""
    pcm = b"".join(models.synthesize(text))
    resampler = rtc.AudioResampler(models.voice_rate, 8000, num_channels=1)
    frames = [*resampler.push(rtc.AudioFrame(pcm, models.voice_rate, 1, len(pcm) // 2)), *resampler.flush()]
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"".join(bytes(f.data) for f in frames))
    return path


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calls]:
    root = tmp_path_factory.mktemp("voice")
    platform = Stack(root / "stack", simulated_calls=0, settings={"AGENT_PROVIDERS": "offline"})
    try:
        env = platform.start()
        models = LocalModels.load()
        wav = _phone_wav(models, PHONE_LINE, root / "caller.wav")
        conversations = {"plain": "voice-plain", "barge-in": "voice-barge-in", "wav": "voice-wav"}
        plans = {
            "plain": saying(SAID),
            "barge-in": ["--barge-in", *saying(BARGE_IN)],
            "wav": ["--caller-wav", str(wav)],
        }
        stack = {"PARLEY_STACK_ENV": str(root / "stack" / "stack.env")}
        running = {
            which: start_simulation(stack, root / which, conversations[which], "grace", "--providers", "local", *args)
            for which, args in plans.items()
        }
        for which, process in running.items():
            out, err = process.communicate(timeout=240)
            assert process.returncode == 0, f"{which}: {err[-3000:]}"
            assert f"conversation {conversations[which]}" in out.splitlines()  # printed once the call has ended
        history = httpx.Client(
            base_url=env["PARLEY_HISTORY_URL"], headers={"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
        )
        found = Calls(history, root / "stack" / "blobs", models, conversations)
        for which, expected in (("plain", 7), ("barge-in", 5), ("wav", 3)):
            eventually_blocking(
                partial(found.has_turns, which, expected), timeout=60, what=f"the {which} call's turns in history"
            )
        yield found
    finally:
        platform.stop()


def test_what_the_caller_said_is_stored_as_heard_within_15_percent_word_error(calls: Calls) -> None:
    heard = [t["text"] for t in calls.turns("plain") if t["role"] == "user"]
    assert len(heard) == len(SAID)
    rate = corpus_error_rate(list(zip(SAID, heard, strict=True)))
    print(f"word error rate {rate:.1%}: {heard}")
    assert rate <= 0.15


def test_every_turn_carries_the_latencies_of_the_stages_that_made_it(calls: Calls) -> None:
    turns = calls.turns("plain")
    assert [t["role"] for t in turns] == ["assistant", "user"] * 3 + ["assistant"]  # the agent speaks first
    for before, turn in itertools.pairwise(turns):
        metrics = turn.get("metrics") or {}
        if turn["role"] == "user":
            assert metrics.get("transcription_delay", 0) > 0 and metrics.get("end_of_turn_delay", 0) > 0, turn
        elif before["role"] == "user":
            assert 0 < metrics.get("e2e_latency", 0) < 15, turn  # the caller's wait for this answer
            assert metrics.get("tts_ttfb", 0) > 0


def test_the_callers_turns_keep_the_recognizers_word_timings(calls: Calls) -> None:
    for turn in (t for t in calls.turns("plain") if t["role"] == "user"):
        timed = turn["words"]
        assert [w["word"] for w in timed] == turn["text"].split()
        starts = [w["start"] for w in timed]
        assert starts == sorted(starts) and all(w["end"] >= w["start"] for w in timed)
        assert timed[-1]["end"] > 1.0  # seconds into the turn, not a placeholder


def test_a_reply_the_caller_cuts_off_is_stored_interrupted_with_the_words_spoken(calls: Calls) -> None:
    turns = calls.turns("barge-in")
    cut = [t for t in turns if t["role"] == "assistant" and t["interrupted"]]
    assert len(cut) == 1, turns
    answered = next(t["text"] for t in turns if t["role"] == "user")
    full_reply = f'You said "{answered}". How else can I help?'  # what the scripted model answers
    assert full_reply.startswith(cut[0]["text"]) and len(cut[0]["text"]) < len(full_reply)
    heard = [t["text"] for t in turns if t["role"] == "user"]
    assert corpus_error_rate(list(zip(BARGE_IN, heard, strict=True))) <= 0.25  # the interruption itself was heard


def test_a_wav_the_caller_plays_is_heard(calls: Calls) -> None:
    heard = [t["text"] for t in calls.turns("wav") if t["role"] == "user"]
    assert len(heard) == 1
    assert corpus_error_rate([(PHONE_LINE, heard[0])]) <= 0.15, heard


def _channels(ogg: bytes) -> list[np.ndarray[Any, np.dtype[np.float32]]]:
    """Each channel of an OGG recording as 16 kHz mono float32 (Whisper's input)."""
    import av

    with av.open(io.BytesIO(ogg), mode="r") as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=16000)
        planes = [f.to_ndarray() for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    joined = np.concatenate(planes, axis=1)
    return [joined[0].astype(np.float32), joined[1].astype(np.float32)]


def test_the_recording_holds_the_callers_voice_and_the_agents(calls: Calls) -> None:
    oggs = list((calls.objects / "audio" / calls.conversations["plain"]).rglob("audio.ogg"))
    assert len(oggs) == 1
    ogg = oggs[0].read_bytes()
    caller, agent = _channels(ogg)
    seconds = len(caller) / 16000
    assert len(ogg) / seconds < 6000  # the speech encoder's 32 kbit/s (the framework's default is about 96)
    heard_caller = words(calls.models.transcribe(caller)[0])
    heard_agent = words(calls.models.transcribe(agent)[0])
    print(f"caller channel: {heard_caller}\nagent channel: {heard_agent}")
    said = set(words(" ".join(SAID)))
    assert len(said & set(heard_caller)) >= 0.8 * len(said)
    assert {"hello", "help", "said"} <= set(heard_agent)  # the greeting and the replies
    assert not {"hello", "help", "else"} & set(heard_caller)  # the agent's voice is not on the caller's channel
