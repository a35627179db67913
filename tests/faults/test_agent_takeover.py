"""A call outlives its agent: the agent is SIGKILLed mid-call, rooms sends another (its failover, from LiveKit's
signed webhooks), the new agent loads the interrupted session and speaks first with what the caller was asking,
and the lost agent, when it comes back to the room, stays silent (the room's lease). Every turn of both agents is
stored once. The whole platform in real processes; LiveKit is the stand-in, its webhooks sent by the test as
LiveKit sends them, and its dispatch carried out by starting the agent with what rooms asked for.

Printed: the delay from the loss to the new agent's first audio, split into rooms' detection (its failover grace
and pass) and the new agent's start (from its job opening to its first audio)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from livekit import api

from parley_devstack.stack import Stack
from tests.rooms.helpers import signed_webhook
from tests.support import eventually_blocking

pytestmark = [pytest.mark.fault, pytest.mark.slow]

# `simulate` runs fake jobs whose ids LiveKit's `shortuuid` makes; pinning it gives a process the job id LiveKit
# would give the same job again (the lost agent coming back).
_AGENT = """
import sys
from livekit.agents import utils
job_id, *args = sys.argv[1:]
real = utils.shortuuid
utils.shortuuid = lambda prefix="": job_id if prefix == "mock-job-" else real(prefix)
from parley_agent.__main__ import main
sys.exit(main(args))
"""
JOB_LOST, JOB_NEW = "mock-job-lost", "mock-job-new"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    platform = Stack(tmp_path / "stack", simulated_calls=0)
    try:
        yield platform
    finally:
        platform.stop()


def _webhook(rooms: httpx.Client, env: dict[str, str], event: str, room: str, identity: str, kind: int) -> None:
    hook = api.WebhookEvent(
        event=event, id=f"EV_{time.time_ns()}", created_at=int(time.time()), room=api.Room(name=room),
        participant=api.ParticipantInfo(identity=identity, kind=kind),  # type: ignore[arg-type]
    )  # fmt: skip
    body, auth = signed_webhook(hook, env["PARLEY_LIVEKIT_API_KEY"], env["PARLEY_LIVEKIT_API_SECRET"])
    answer = rooms.post("/v1/livekit/webhook", content=body.encode(), headers={"Authorization": auth})
    assert answer.status_code == 200, answer.text


def _first_audio_ms(log: str) -> int:
    for line in log.splitlines():
        if '"the agent spoke first"' in line:
            return int(json.loads(line)["after_ms"])
    raise AssertionError("the agent never spoke first")


def test_a_lost_agents_call_is_taken_over_by_an_agent_that_speaks_first_and_the_lost_one_stays_silent(
    stack: Stack, tmp_path: Path
) -> None:
    env = stack.start()
    auth = {"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
    rooms = httpx.Client(base_url=env["PARLEY_ROOMS_URL"], headers=auth, timeout=10)
    history = httpx.Client(base_url=env["PARLEY_HISTORY_URL"], headers=auth, timeout=10)
    room = rooms.post("/v1/rooms", json={"user_id": "ada"}).json()
    cid, name = room["conversation_id"], room["name"]
    agent_env = {**os.environ, "AGENT_NATS_URL": env["PARLEY_NATS_URL"], "AGENT_PROVIDERS": "offline",
                 "AGENT_STATE_DIR": str(tmp_path / "agent"), "AGENT_PORT": "0"}  # fmt: skip

    def agent(job: str, *extra: str) -> list[str]:
        return [sys.executable, "-c", _AGENT, job, "simulate", "-n", "1", "--conversation", cid, "--room", name, *extra]

    def sessions() -> dict[str, dict[str, Any]]:
        found = history.get(f"/v1/conversations/{cid}")
        return {s["id"]: s for s in found.json()["sessions"]} if found.status_code == 200 else {}

    def turns(session_id: str) -> list[dict[str, Any]]:
        found = history.get(f"/v1/sessions/{session_id}")
        return list(found.json()["turns"]) if found.status_code == 200 else []

    lost = subprocess.Popen(agent(JOB_LOST), env=agent_env, stdout=subprocess.DEVNULL,
                            stderr=(tmp_path / "lost.log").open("ab"), start_new_session=True)  # fmt: skip
    _webhook(rooms, env, "participant_joined", name, "ada-phone", 0)
    _webhook(rooms, env, "participant_joined", name, f"agent-{JOB_LOST}", 4)
    try:
        lost_id = eventually_blocking(
            lambda: next((s for s in sessions() if len(turns(s)) >= 3), None), what="the first agent mid-call"
        )
    finally:
        os.killpg(lost.pid, 9)  # SIGKILL, mid-call: no drain, no session end, no goodbye
        lost.wait(10)
        killed_at = time.monotonic()
    heard = [t["text"] for t in turns(lost_id) if t["role"] == "user"]
    assert heard, "the caller had said something before the loss"

    # LiveKit sees the agent's connection close and says so; rooms waits out its grace, then dispatches again.
    _webhook(rooms, env, "participant_left", name, f"agent-{JOB_LOST}", 4)
    assert stack.livekit is not None
    dispatch = eventually_blocking(lambda: stack.livekit.dispatched if stack.livekit else None, timeout=60,
                                   what="rooms to dispatch an agent again")[0]  # fmt: skip
    detected = time.monotonic() - killed_at
    resumed_from = json.loads(dispatch.metadata)["resumed_from"]
    assert resumed_from == lost_id

    # The call goes on long enough for the lost agent to come back during it.
    goes_on = [arg for n in range(8) for arg in ("--say", f"And one more thing, number {n + 1}.")]
    taking_over = subprocess.Popen(agent(JOB_NEW, "--exit", "--resumed-from", resumed_from, *goes_on), env=agent_env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    new_id = eventually_blocking(lambda: next((s for s in sessions() if s != lost_id and turns(s)), None),
                                 timeout=60, what="the new agent's first turn")  # fmt: skip
    # The lost agent comes back to the room (LiveKit gives it its job again): the room is taken, it says nothing.
    came_back = subprocess.run(agent(JOB_LOST, "--exit"), env=agent_env, capture_output=True, text=True, timeout=120)
    assert came_back.returncode == 0, came_back.stderr[-2000:]
    assert "another agent has this room" in came_back.stderr, came_back.stderr[-4000:]
    _, log = taking_over.communicate(timeout=180)
    assert taking_over.returncode == 0, log[-2000:]

    def all_ended() -> dict[str, dict[str, Any]] | None:
        found = sessions()
        return found if all(s["end_reason"] for s in found.values()) else None

    ended = eventually_blocking(all_ended, timeout=60, what="both sessions ended")
    assert set(ended) == {lost_id, new_id}, "the agent that came back published nothing"
    assert ended[new_id]["resumed_from"] == lost_id
    first = turns(new_id)[0]
    assert first["role"] == "assistant" and heard[-1] in first["text"], "it speaks first, from the cut-off session"
    for session_id in (lost_id, new_id):
        assert [t["seq"] for t in turns(session_id)] == list(range(1, len(turns(session_id)) + 1))  # each once
    new_callers_lines = [t["text"] for t in turns(new_id) if t["role"] == "user"]
    assert not set(new_callers_lines) & set(heard), "the call went on from where it was cut, nothing said twice"

    first_audio_ms = _first_audio_ms(log)
    print(
        f"\nagent lost to new agent's first audio: {detected + first_audio_ms / 1000:.2f} s "
        f"(rooms' detection, grace and pass, from LiveKit's participant_left: {detected:.2f} s; "
        f"the new agent, from its job opening to its first audio: {first_audio_ms} ms)"
    )
