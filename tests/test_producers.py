"""Real traffic through the real services (a room, LiveKit's signed webhooks, a simulated call, an erasure) puts
on VOICE only messages whose producer their type declares (`parley_contracts.PRODUCERS`), each on its type's
subject, and one fact under one type: a subscriber of `participant_joined.v1` sees one event per join."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest
from livekit import api

import parley_contracts as c
from parley_devstack.stack import Stack
from parley_devstack.testing import messages_in
from tests.rooms.helpers import signed_webhook
from tests.support import eventually_blocking

pytestmark = pytest.mark.slow


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    platform = Stack(tmp_path / "stack", simulated_calls=0)
    try:
        yield platform
    finally:
        platform.stop()


async def _voice(url: str) -> list[tuple[str, bytes]]:
    nc = await nats.connect(url)
    try:
        return [(m.subject or "", m.data or b"") for m in await messages_in(nc.jetstream(), "VOICE")]
    finally:
        await nc.close()


def test_every_message_on_voice_comes_from_a_producer_its_type_declares(stack: Stack, tmp_path: Path) -> None:
    env = stack.start()
    auth = {"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
    rooms = httpx.Client(base_url=env["PARLEY_ROOMS_URL"], headers=auth, timeout=10)
    history = httpx.Client(base_url=env["PARLEY_HISTORY_URL"], headers=auth, timeout=10)
    room = rooms.post("/v1/rooms", json={"user_id": "ada"}).json()

    def webhook(event: str, identity: str = "", kind: int = 0) -> None:
        hook = api.WebhookEvent(
            event=event, id=f"EV_{time.time_ns()}", created_at=int(time.time()), room=api.Room(name=room["name"]),
            participant=api.ParticipantInfo(identity=identity, kind=kind),  # type: ignore[arg-type]
        )  # fmt: skip
        body, sig = signed_webhook(hook, env["PARLEY_LIVEKIT_API_KEY"], env["PARLEY_LIVEKIT_API_SECRET"])
        assert rooms.post("/v1/livekit/webhook", content=body.encode(), headers={"Authorization": sig}).is_success

    webhook("participant_joined", "ada-phone", 0)
    webhook("participant_joined", "agent-AJ_1", 4)
    agent_env = {**os.environ, "AGENT_NATS_URL": env["PARLEY_NATS_URL"], "AGENT_PROVIDERS": "offline",
                 "AGENT_STATE_DIR": str(tmp_path / "agent"), "AGENT_PORT": "0"}  # fmt: skip
    call = subprocess.run(
        [sys.executable, "-m", "parley_agent", "simulate", "--exit", "-n", "1",
         "--conversation", room["conversation_id"], "--room", room["name"]],
        env=agent_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert call.returncode == 0, call.stderr[-2000:]
    webhook("participant_left", "ada-phone", 0)
    webhook("participant_left", "agent-AJ_1", 4)
    webhook("room_finished")
    eventually_blocking(
        lambda: history.get(f"/v1/conversations/{room['conversation_id']}").status_code == 200, what="the call stored"
    )
    # A second call, erased on request: history publishes the erasure (and purges that call's other events).
    other = rooms.post("/v1/rooms", json={"user_id": "grace"}).json()
    again = subprocess.run(
        [sys.executable, "-m", "parley_agent", "simulate", "--exit", "-n", "1",
         "--conversation", other["conversation_id"], "--room", other["name"]],
        env=agent_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    eventually_blocking(
        lambda: history.get(f"/v1/conversations/{other['conversation_id']}").status_code == 200, what="it stored"
    )
    history.delete(f"/v1/conversations/{other['conversation_id']}")
    eventually_blocking(
        lambda: history.get(f"/v1/erasures/{other['conversation_id']}").json()["status"] == "done",
        timeout=60,
        what="the erasure done",
    )

    messages = asyncio.run(_voice(env["PARLEY_NATS_URL"]))
    events = [(subject, c.decode(data)) for subject, data in messages]
    strays = [(type(e).tag(), e.producer) for _, e in events if e.producer not in c.PRODUCERS[type(e)]]
    assert strays == [], "a message whose producer its type does not declare"
    assert all(subject == c.subject_for(e) for subject, e in events)
    kinds = Counter(type(e) for _, e in events)
    everyone = {c.RoomCreated, c.RoomParticipantJoined, c.RoomParticipantLeft, c.RoomFinished, c.SessionStarted,
                c.ParticipantJoined, c.TurnCompleted, c.AgentHandoff, c.SessionEnded, c.ConversationErased}  # fmt: skip
    assert everyone <= set(kinds), everyone - set(kinds)
    # One join of the caller in the agent's session: one `participant_joined.v1` (LiveKit's own two joins, the
    # caller's and the agent's, are `room_participant_joined.v1`).
    joins = [e for _, e in events if isinstance(e, c.ParticipantJoined)]
    assert [(e.identity, e.producer) for e in joins] == [("simulated-caller", "agent")]
    assert kinds[c.RoomParticipantJoined] == 2
