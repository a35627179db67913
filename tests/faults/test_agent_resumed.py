"""A job LiveKit resumes on another worker (same job id) after its first worker was killed mid-call: every turn of
both attempts is stored, the second names the first and picks the call up where it was cut, and history ends the
first at once rather than after its two-hour timeout. The whole platform in real processes; LiveKit's resumption
is stood in for by starting the second agent with the job id the first had (no LiveKit server runs here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import parley_contracts as c
from parley_devstack.stack import Stack
from tests.support import eventually_blocking

pytestmark = [pytest.mark.fault, pytest.mark.slow]

JOB_ID = "mock-job-resumed"
# `simulate` runs fake jobs whose ids LiveKit's `shortuuid` makes; pinning it gives both attempts one job id.
_AGENT = f"""
import sys
from livekit.agents import utils
real = utils.shortuuid
utils.shortuuid = lambda prefix="": {JOB_ID!r} if prefix == "mock-job-" else real(prefix)
from parley_agent.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    platform = Stack(tmp_path / "stack", simulated_calls=0)  # history's lost-session timeout: its 2 h default
    try:
        yield platform
    finally:
        platform.stop()


def test_a_resumed_job_stores_every_turn_of_both_attempts_and_ends_the_lost_one_at_once(
    stack: Stack, tmp_path: Path
) -> None:
    env = stack.start()
    auth = {"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
    rooms = httpx.Client(base_url=env["PARLEY_ROOMS_URL"], headers=auth, timeout=10)
    history = httpx.Client(base_url=env["PARLEY_HISTORY_URL"], headers=auth, timeout=10)
    room = rooms.post("/v1/rooms", json={"user_id": "ada"}, headers={"Idempotency-Key": "resumed-1"}).json()
    cid = room["conversation_id"]
    args = [sys.executable, "-c", _AGENT, "simulate", "-n", "1", "--conversation", cid, "--room", room["name"]]
    agent_env = {**os.environ, "AGENT_NATS_URL": env["PARLEY_NATS_URL"], "AGENT_PROVIDERS": "offline",
                 "AGENT_STATE_DIR": str(tmp_path / "agent"), "AGENT_PORT": "0"}  # fmt: skip

    def turns() -> list[dict[str, Any]]:
        r = history.get(f"/v1/conversations/{cid}/turns", params={"limit": 50})
        return list(r.json()["items"]) if r.status_code == 200 else []

    first_worker = subprocess.Popen(
        args, env=agent_env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "first.log").open("ab"),
        start_new_session=True,
    )  # fmt: skip
    try:
        eventually_blocking(turns, what="the first attempt's first turn in history", timeout=60)
    finally:
        os.killpg(first_worker.pid, signal.SIGKILL)  # mid-call: no drain, no session end
        first_worker.wait(10)
    first_turns = len(turns())
    assert 1 <= first_turns < 7, "the kill must land mid-call (the call has seven turns)"

    second_worker = subprocess.run([*args, "--exit"], env=agent_env, capture_output=True, text=True, timeout=180)
    assert second_worker.returncode == 0, second_worker.stderr[-2000:]

    def sessions() -> list[dict[str, Any]] | None:
        found = history.get(f"/v1/conversations/{cid}").json()["sessions"]
        return found if len(found) == 2 and all(s["end_reason"] for s in found) else None

    by_id = {
        s["id"]: s for s in eventually_blocking(sessions, what="both attempts' sessions ended in history", timeout=30)
    }
    (second,) = [s for s in by_id.values() if s["resumed_from"]]
    first = by_id[second["resumed_from"]]
    assert first["id"] != second["id"] and all(s.startswith(f"{JOB_ID}-") for s in by_id)
    assert (first["end_reason"], first["stored_turns"]) == (c.AGENT_LOST, first_turns)  # long before 2 hours
    assert second["end_reason"] != c.AGENT_LOST  # its agent's own end
    stored = turns()
    second_turns = [t for t in stored if t["session_id"] == second["id"]]
    assert len(stored) == first_turns + len(second_turns), "no turn of either attempt was taken for a redelivery"
    assert sorted((t["session_id"], t["seq"]) for t in stored) == sorted(
        [(first["id"], n) for n in range(1, first_turns + 1)]
        + [(second["id"], n) for n in range(1, len(second_turns) + 1)]
    )
    # The second attempt picks up where the first was cut: it speaks first, about what the caller had asked, and
    # the caller goes on with what was still to say.
    asked = [t["text"] for t in stored if t["session_id"] == first["id"] and t["role"] == "user"]
    opening = second_turns[0]
    assert opening["role"] == "assistant" and (not asked or asked[-1] in opening["text"])
    assert not {t["text"] for t in second_turns if t["role"] == "user"} & set(asked)
    shown = eventually_blocking(
        lambda: (r := rooms.get(f"/v1/rooms/{room['name']}").json())["status"] == "ended" and r,
        what="rooms",
        timeout=60,
    )
    assert shown["agent_session_id"] == second["id"]
