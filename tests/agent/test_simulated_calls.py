"""Simulated calls through the real job lifecycle (a worker process, fake jobs) against real NATS."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import nats
import pytest

import parley_contracts as c
from parley_contracts.streams import AUDIO_BUCKET
from parley_devstack.nats_server import NatsServer
from parley_devstack.testing import provisioned, stream_events
from parley_runtime.messaging.spill import SpillFile
from tests.support import eventually

pytestmark = pytest.mark.slow


def _agent_env(nats_url: str, state: Path) -> dict[str, str]:
    """An offline agent against this NATS, its state in `state`, its health port wherever is free."""
    return {
        **os.environ,
        "AGENT_NATS_URL": nats_url,
        "AGENT_PROVIDERS": "offline",
        "AGENT_STATE_DIR": str(state),
        "AGENT_PORT": "0",
    }


def _agent(nats_url: str, state: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = _agent_env(nats_url, state) | {
        "AGENT_DRAIN_TIMEOUT_SECONDS": "1",
        "AGENT_RECORDING_UPLOAD_TIMEOUT_SECONDS": "2",
    }
    return subprocess.run(
        [sys.executable, "-m", "parley_agent", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


async def test_a_simulated_call_stores_its_recording_and_names_it_in_session_ended(
    embedded_nats: NatsServer, tmp_path: Path
) -> None:
    await provisioned(embedded_nats.url)
    run = _agent(embedded_nats.url, tmp_path / "agent", "simulate", "-n", "1", "--exit")
    assert run.returncode == 0, run.stderr[-2000:]
    events = await stream_events(embedded_nats.url)
    ended = [e for e in events if isinstance(e, c.SessionEnded)]
    assert len(ended) == 1
    recording = ended[0].recording
    assert recording is not None
    assert recording.bucket == AUDIO_BUCKET and recording.content_type == "audio/ogg"
    assert recording.key == f"{ended[0].conversation_id}/{ended[0].session_id}/audio.ogg"
    nc = await nats.connect(embedded_nats.url)
    stored = await (await nc.jetstream().object_store(AUDIO_BUCKET)).get(recording.key)
    await nc.close()
    assert stored.data is not None
    assert len(stored.data) == recording.bytes > 1000
    assert hashlib.sha256(stored.data).hexdigest() == recording.sha256
    assert stored.data[:4] == b"OggS"
    turns = [e for e in events if isinstance(e, c.TurnCompleted)]
    assert [t.seq for t in turns] == list(range(1, 8))  # the greeting, then the script
    assert ended[0].turn_count == 7


async def test_a_call_whose_audio_can_be_neither_uploaded_nor_kept_still_publishes_its_end(
    embedded_nats: NatsServer, tmp_path: Path
) -> None:
    """The audio bucket is gone and the pending-audio folder cannot be made: the audio is lost, which the log
    says, but the end of the call (and its transcript, in `session_ended`) must still go out."""
    await provisioned(embedded_nats.url)
    nc = await nats.connect(embedded_nats.url)
    await nc.jetstream().delete_object_store(AUDIO_BUCKET)
    await nc.close()
    state = tmp_path / "agent"
    state.mkdir()
    (state / "audio-pending").write_bytes(b"")  # a file where the folder should be: mkdir fails
    run = _agent(embedded_nats.url, state, "simulate", "-n", "1", "--exit")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "recording lost" in run.stderr
    events = await stream_events(embedded_nats.url)
    ended = [e for e in events if isinstance(e, c.SessionEnded)]
    assert len(ended) == 1 and ended[0].recording is None
    assert [m.seq for m in ended[0].messages] == list(range(1, 8))
    assert len([e for e in events if isinstance(e, c.TurnCompleted)]) == 7


async def test_calls_complete_with_nats_down_and_every_event_lands_once_when_it_is_back(
    embedded_nats: NatsServer, tmp_path: Path
) -> None:
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    state = tmp_path / "agent"
    started = time.monotonic()
    run = _agent(embedded_nats.url, state, "simulate", "-n", "2", "--exit")
    assert run.returncode == 0, run.stderr[-2000:]
    assert time.monotonic() - started < 60, "a NATS outage must not stall the calls"
    assert list((state / "outbox").glob("*.jsonl")), "the events wait on disk"
    assert list((state / "audio-pending").glob("*.ogg")), "the audio waits on disk"

    embedded_nats.start()  # same store dir
    flushed = _agent(embedded_nats.url, state, "flush")
    assert flushed.returncode == 0, flushed.stderr[-2000:]
    flushed_again = _agent(embedded_nats.url, state, "flush")  # idempotent
    assert flushed_again.returncode == 0

    events = await stream_events(embedded_nats.url)
    assert len({e.event_id for e in events}) == len(events), "no event twice"
    per_session = Counter((type(e).__name__, getattr(e, "session_id", None)) for e in events)
    sessions = {e.session_id for e in events if isinstance(e, c.SessionStarted)}
    assert len(sessions) == 2
    for sid in sessions:
        assert per_session[("SessionStarted", sid)] == 1
        assert per_session[("TurnCompleted", sid)] == 7
        assert per_session[("SessionEnded", sid)] == 1
    nc = await nats.connect(embedded_nats.url)
    objects = await (await nc.jetstream().object_store(AUDIO_BUCKET)).list()
    await nc.close()
    assert len(objects) == 2
    assert not list((state / "audio-pending").glob("*.ogg"))


def _spilled(state: Path) -> list[c.Event]:
    """The events in the agent's outbox spill files (a line being written is left out, as a replay would)."""
    files = (state / "outbox").glob("*.jsonl")
    return [c.decode(data) for f in files for _, data, _ in SpillFile(f).read(budget=1_000_000)]


async def test_a_worker_sigkilled_mid_call_during_an_outage_loses_no_event_it_had_emitted(
    embedded_nats: NatsServer, tmp_path: Path
) -> None:
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    state = tmp_path / "agent"
    worker = subprocess.Popen(
        [sys.executable, "-m", "parley_agent", "simulate", "-n", "1"],
        env=_agent_env(embedded_nats.url, state),
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "agent.log").open("ab"),
        start_new_session=True,  # its job processes too, below
    )
    try:
        await eventually(
            lambda: sum(isinstance(e, c.TurnCompleted) for e in _spilled(state)) >= 2,
            timeout=60,
            interval=0.05,
            what="the call's events on disk during the outage",
        )
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # mid-call: no drain, no session end, no goodbye
        worker.wait(10)
    on_disk = {str(e.event_id) for e in _spilled(state)}
    embedded_nats.start()
    flushed = _agent(embedded_nats.url, state, "flush")  # another worker's start-up does the same
    assert flushed.returncode == 0, flushed.stderr[-2000:]

    events = await stream_events(embedded_nats.url)
    assert {str(e.event_id) for e in events} >= on_disk
    turns = sorted(e.seq for e in events if isinstance(e, c.TurnCompleted))
    assert len(turns) >= 2 and turns == list(range(1, len(turns) + 1))  # every turn up to the kill, no gap
    assert sum(isinstance(e, c.SessionStarted) for e in events) == 1
    assert not any(isinstance(e, c.SessionEnded) for e in events), "the kill must land mid-call"
