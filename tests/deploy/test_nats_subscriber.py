"""The documented NATS user for a subscriber of yours (deploy/helm/nats-subscriber-example.yaml), on a real
nats-server with the chart's accounts: it reads the events through a durable of its own, and nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.aio.client import Client
from nats.js.api import AckPolicy

import parley_contracts as c
from parley_devstack import nats_accounts
from parley_devstack.chart import ROOT
from parley_devstack.nats_server import NatsServer
from tests.support import eventually

from ..runtime.conftest import turn
from .test_nats_permissions import REFUSED, server_log

EXAMPLE = ROOT / "deploy" / "helm" / "nats-subscriber-example.yaml"
NAME = "analytics"


def example() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE.read_text()))


@pytest.fixture
def extra_nats_users() -> tuple[dict[str, Any], ...]:
    return (example()["user"],)


def test_the_example_names_one_user_its_password_and_only_its_own_durable() -> None:
    doc = example()
    assert doc["user"]["user"] == NAME
    assert doc["user"]["password"] == "<< $ANALYTICS_PASSWORD >>" and "ANALYTICS_PASSWORD" in doc["env"]
    allowed = doc["user"]["permissions"]["publish"]["allow"]
    assert all(s.startswith(("$JS.API.CONSUMER.", "$JS.ACK.VOICE.")) and f".VOICE.{NAME}" in s for s in allowed)


async def test_a_subscriber_reads_the_events_through_its_own_durable_and_is_refused_the_rest(
    secured: tuple[NatsServer, dict[str, str]], login: dict[str, Client]
) -> None:
    connected = login
    for seq in (1, 2):
        event = turn(seq)
        await connected["agent"].jetstream().publish(c.subject_for(event), c.encode(event), timeout=2)
    admin = connected["parley-admin"].jetstream()
    await admin.publish("dlq.voice.turn_completed.v1.conv-1", b"{}", timeout=2)  # a dead letter to be refused
    js = connected[NAME].jetstream(timeout=2)
    # As the example's comment says: the durable, named as the user, created by the subscriber itself.
    await js.add_consumer(
        "VOICE", durable_name=NAME, name=NAME, filter_subject="voice.turn_completed.v1.>", ack_policy=AckPolicy.EXPLICIT
    )
    sub = await js.pull_subscribe_bind(NAME, stream="VOICE")
    messages = await sub.fetch(10, timeout=2)
    assert sorted(c.decode(m.data).seq for m in messages) == [1, 2]  # type: ignore[union-attr]
    for msg in messages:
        await msg.ack_sync(timeout=2)
    info = await js.consumer_info("VOICE", NAME)
    assert (info.num_ack_pending, info.num_pending) == (0, 0)

    evil = connected[NAME].jetstream(timeout=0.5)
    with pytest.raises(REFUSED):  # publishes no event
        await evil.publish(c.subject_for(turn(3)), c.encode(turn(3)))
    with pytest.raises(REFUSED):  # no durable under another name
        await evil.add_consumer("VOICE", durable_name="other", name="other", ack_policy=AckPolicy.EXPLICIT)
    with pytest.raises(REFUSED):  # not history's durable
        await connected[NAME].request("$JS.API.CONSUMER.MSG.NEXT.VOICE.history", b'{"batch":1}', timeout=0.5)
    with pytest.raises(REFUSED):  # neither the dead letters nor the audio
        await evil.get_msg("DLQ", 1)
    with pytest.raises(REFUSED):
        await evil.object_store("voice-audio")
    with pytest.raises(REFUSED):  # and changes no stream
        await evil.purge_stream("VOICE")
    with pytest.raises(REFUSED):
        await evil.delete_consumer("VOICE", NAME)
    refused = await eventually(  # the server writes its log as it goes
        lambda: [v for v in nats_accounts.violations(server_log(secured)) if f'"PARLEY/user:{NAME}"' in v],
        what="the refusal in the server's log",
    )
    assert any("Publish Violation" in line for line in refused), refused
    assert (await admin.stream_info("VOICE")).state.messages == 2


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("turn_counter", ROOT / "examples" / "turn_counter.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _caught_up(js: Any, running: asyncio.Task[None]) -> None:
    """Until the example's durable (once it has made it) has nothing left to deliver and nothing unacked."""

    async def caught_up() -> bool:
        if running.done():
            running.result()  # its error, if it stopped on one
        with contextlib.suppress(nats.js.errors.NotFoundError):
            info = await js.consumer_info("VOICE", NAME)
            return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0)
        return False

    await eventually(caught_up, timeout=10, interval=0.1, what="the subscriber to catch up")


async def test_the_example_subscriber_stores_each_turn_once_under_its_user_and_honours_erasure(
    secured: tuple[NatsServer, dict[str, str]], login: dict[str, Client], tmp_path: Path
) -> None:
    (server, passwords), connected = secured, login
    example, db_path = _example(), str(tmp_path / "turns.db")
    agent, admin = connected["agent"].jetstream(), connected["parley-admin"].jetstream()
    a1, a2 = (turn(seq, conversation="conv-a", session="sess-a", text="hi " * seq) for seq in (1, 2))
    b1, b2 = (turn(seq, conversation="conv-b", session="sess-b", text="hello " * seq) for seq in (1, 2))
    late = turn(3, conversation="conv-a", session="sess-a")
    for event in (a1, a2, b1):
        await agent.publish(c.subject_for(event), c.encode(event), timeout=2)
    await admin.publish(c.subject_for(b1), c.encode(b1), headers={"Nats-Msg-Id": "again"}, timeout=2)  # redelivered
    await admin.publish("voice.turn_completed.v1.conv-b", b'{"type": "turn_completed.v1"}', timeout=2)  # malformed
    url = server.url.replace("nats://", f"nats://{NAME}:{passwords[NAME]}@")

    def rows() -> list[tuple[str, int, int]]:
        with sqlite3.connect(db_path) as db:
            return db.execute("SELECT conversation_id, seq, chars FROM turns ORDER BY 1, 2").fetchall()

    for attempt in range(2):  # stopped and started again: the durable and the database carry on
        stop = asyncio.Event()
        running = asyncio.create_task(example.run(url, db_path, stop))
        if attempt == 0:
            await _caught_up(admin, running)
            assert rows() == [("conv-a", 1, len(a1.text)), ("conv-a", 2, len(a2.text)), ("conv-b", 1, len(b1.text))]
            erased = c.ConversationErased(
                event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id="conv-a", producer="history"
            )
            await admin.publish(c.subject_for(erased), c.encode(erased), timeout=2)
        else:
            for event in (late, b2):  # conv-a's comes after its erasure
                await agent.publish(c.subject_for(event), c.encode(event), timeout=2)
        await _caught_up(admin, running)
        stop.set()
        await asyncio.wait_for(running, 5)
    assert rows() == [("conv-b", 1, len(b1.text)), ("conv-b", 2, len(b2.text))]
