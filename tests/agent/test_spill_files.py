"""Which outbox spill files a worker replays: those no running process will publish, and each only once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

import parley_contracts as c
from parley_agent import owners, spill_files
from parley_agent.background import replay_spills
from parley_agent.settings import Settings
from parley_devstack.testing import stream_events
from parley_runtime.messaging.entries import LazyEntry
from parley_runtime.messaging.provision import provision
from parley_runtime.messaging.spill import SpillFile
from tests.runtime.conftest import turn


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _spill(path: Path, events: list[c.TurnCompleted]) -> Path:
    spill = SpillFile(path)
    for event in events:
        spill.append(LazyEntry(event, None).entry())
    spill.close()
    return path


def test_a_file_whose_pid_now_belongs_to_another_process_is_an_orphan(
    tmp_path: Path, live_process: subprocess.Popen[bytes]
) -> None:
    # A restarted container's pids start over: the dead writer's pid may be a live process's now.
    pid = live_process.pid
    real = owners._start_time(pid)
    assert real is not None, "needs /proc"
    reused = _spill(tmp_path / f"s1.{pid}-{int(real) - 1}.jsonl", [turn(seq=1)])
    live = _spill(tmp_path / f"s2.{pid}-{real}.jsonl", [turn(seq=1)])
    assert spill_files.orphans(tmp_path, set()) == [reused]
    assert live.exists()


def test_a_claim_whose_worker_died_is_claimed_again_and_a_live_claim_is_left(
    tmp_path: Path, live_process: subprocess.Popen[bytes]
) -> None:
    abandoned = _spill(tmp_path / f"s1.{_dead_pid()}-1.replaying", [turn(seq=1)])
    owner = f"{live_process.pid}-{owners._start_time(live_process.pid)}"
    _spill(tmp_path / f"s2.{owner}.replaying", [turn(seq=1)])
    assert spill_files.orphans(tmp_path, set()) == [abandoned]
    claimed = spill_files.claim(abandoned)
    assert claimed == tmp_path / f"s1.{owners.this_owner()}.replaying"
    assert spill_files.claim(abandoned) is None  # taken: a second worker gets nothing
    assert spill_files.orphans(tmp_path, set()) == []  # this process's own claim is in hand


def test_this_process_finished_calls_are_orphans_and_its_live_calls_are_not(tmp_path: Path) -> None:
    finished = _spill(spill_files.spill_path(tmp_path, "s1"), [turn(seq=1)])
    active = _spill(spill_files.spill_path(tmp_path, "s2"), [turn(seq=1)])
    _spill(spill_files.spill_path(tmp_path, "s3"), [])  # empty: nothing to publish
    assert spill_files.orphans(tmp_path / "outbox", {active}) == [finished]


async def test_orphaned_files_are_published_and_removed_and_a_second_pass_finds_nothing(
    nats_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_url)
    await provision(nc.jetstream())
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    dead = _dead_pid()
    written = [turn(seq=i) for i in range(1, 6)]
    _spill(outbox / f"s1.{dead}-1.jsonl", written[:3])
    _spill(outbox / f"s2.{dead}-1.replaying", written[3:])
    settings = Settings(nats_url=nats_url, providers="offline", state_dir=str(tmp_path))
    try:
        assert await replay_spills(nc, settings) == 2
        assert await replay_spills(nc, settings) == 0
    finally:
        await nc.close()
    assert list(outbox.iterdir()) == []
    published = {e.event_id for e in await stream_events(nats_url)}
    assert {e.event_id for e in written} <= published


def test_a_finished_call_file_is_released_to_any_worker_while_its_job_process_lives_on(
    tmp_path: Path, live_process: subprocess.Popen[bytes]
) -> None:
    owner = f"{live_process.pid}-{owners._start_time(live_process.pid)}"
    path = _spill(tmp_path / f"s1.{owner}.jsonl", [turn(seq=1)])
    assert spill_files.orphans(tmp_path, set()) == []  # its (pooled) job process still runs
    released = spill_files.release(path)
    assert released == tmp_path / f"s1.finished-{owner}.jsonl"
    assert spill_files.orphans(tmp_path, set()) == [released]
    assert spill_files.release(tmp_path / "s2.1-1.jsonl") is None  # nothing was spilled
