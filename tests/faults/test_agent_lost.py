"""A call whose agent is SIGKILLed mid-call still ends everywhere, and the agent's own end, arriving later,
replaces history's. The whole platform in real processes, each on the chart's NATS user (so history's right
to publish the end is checked too); history's timeout is cut to 3 s."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

import parley_contracts as c
from parley_devstack import nats_accounts
from parley_devstack.stack import Stack
from tests.support import eventually_blocking

pytestmark = [pytest.mark.fault, pytest.mark.slow]


async def _publish(stack: Stack, url: str, event: c.SessionEnded) -> None:
    admin = nats_accounts.ADMIN
    nc = await nats.connect(url, user=admin, password=stack.nats_passwords[admin])
    await nc.jetstream().publish(c.subject_for(event), c.encode(event), headers={"Nats-Msg-Id": str(event.event_id)})
    await nc.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    platform = Stack(
        tmp_path / "stack", simulated_calls=0, chart_users=True, settings={"HISTORY_SESSION_TIMEOUT_MINUTES": "0.05"}
    )
    try:
        yield platform
    finally:
        platform.stop()


def test_a_call_whose_agent_is_sigkilled_is_ended_by_history_and_its_transcript_written(
    stack: Stack, tmp_path: Path
) -> None:
    env = stack.start()
    auth = {"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
    rooms = httpx.Client(base_url=env["PARLEY_ROOMS_URL"], headers=auth, timeout=10)
    history = httpx.Client(base_url=env["PARLEY_HISTORY_URL"], headers=auth, timeout=10)
    recordings = httpx.Client(base_url=env["PARLEY_RECORDINGS_URL"], headers=auth, timeout=10)
    room = rooms.post("/v1/rooms", json={"user_id": "ada"}, headers={"Idempotency-Key": "lost-1"}).json()
    cid = room["conversation_id"]
    agent = subprocess.Popen(
        [sys.executable, "-m", "parley_agent", "simulate", "-n", "1", "--conversation", cid, "--room", room["name"]],
        env={**os.environ, "AGENT_NATS_URL": env["PARLEY_NATS_URL"], "AGENT_PROVIDERS": "offline",
             "AGENT_STATE_DIR": str(tmp_path / "agent"), "AGENT_PORT": "0", **stack.nats_login("AGENT_", "agent")},
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("ab"), start_new_session=True,
    )  # fmt: skip

    def turns() -> list[dict[str, Any]]:
        r = history.get(f"/v1/conversations/{cid}/turns", params={"limit": 50})
        return list(r.json()["items"]) if r.status_code == 200 else []

    try:
        eventually_blocking(turns, what="the call's first turn in history", timeout=60)
    finally:
        os.killpg(agent.pid, signal.SIGKILL)  # mid-call: no drain, no session end
        agent.wait(10)

    def session() -> dict[str, Any] | None:
        (s,) = history.get(f"/v1/conversations/{cid}").json()["sessions"]
        return s if s["end_reason"] else None

    ended = eventually_blocking(session, what="history to end the lost agent's session", timeout=60)
    assert ended["end_reason"] == c.AGENT_LOST and ended["status"] == "ended"
    stored = turns()
    assert 1 <= len(stored) < 7, "the kill must land mid-call (the call has seven turns)"

    def transcripts() -> list[dict[str, Any]]:
        items = recordings.get("/v1/recordings", params={"conversation_id": cid}).json()["items"]
        return items if len(items) == 2 else []

    by_format = {
        r["format"]: r for r in eventually_blocking(transcripts, what="recordings to write the transcript", timeout=60)
    }
    assert sorted(by_format) == ["json", "vtt"] and all(r["provisional"] for r in by_format.values())
    doc = recordings.get(by_format["json"]["content_url"]).json()
    assert doc["reason"] == c.AGENT_LOST
    assert [(m["seq"], m["text"]) for m in doc["messages"]] == [(t["seq"], t["text"]) for t in stored]
    shown = eventually_blocking(
        lambda: (r := rooms.get(f"/v1/rooms/{room['name']}").json())["status"] == "ended" and r,
        what="rooms",
        timeout=60,
    )
    assert (shown["agent_session_id"], shown["end_reason"]) == (ended["id"], c.AGENT_LOST)

    # The agent's own end turns up after all (its spill file replayed on a pod that came back): it wins.
    own = c.SessionEnded(
        event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id=cid, producer="parley-agent",
        session_id=ended["id"], reason="participant_disconnected", started_at=ended["started_at"],
        ended_at=ended["ended_at"], duration_seconds=ended["duration_seconds"], turn_count=len(stored),
        messages=[c.MessageSummary(seq=t["seq"], role=t["role"], text=t["text"], at=t["occurred_at"]) for t in stored],
    )  # fmt: skip
    asyncio.run(_publish(stack, env["PARLEY_NATS_URL"], own))
    eventually_blocking(
        lambda: (s := session()) is not None and s["end_reason"] == "participant_disconnected",
        what="history to take the agent's end",
        timeout=60,
    )
    eventually_blocking(
        lambda: not any(r["provisional"] for r in transcripts()),
        what="recordings to replace the transcript",
        timeout=60,
    )
    doc = recordings.get(by_format["json"]["content_url"]).json()
    assert doc["reason"] == "participant_disconnected"
    eventually_blocking(
        lambda: rooms.get(f"/v1/rooms/{room['name']}").json()["end_reason"] != c.AGENT_LOST, what="rooms", timeout=60
    )
    assert nats_accounts.violations(stack.nats_log()) == []
