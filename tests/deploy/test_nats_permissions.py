"""The documented NATS accounts give each service exactly the event subjects it produces, and a real
nats-server running them refuses what a service must not do. (That they grant everything each service
needs is proven by `make demo`, which runs every process under its own user: tests/test_demo.py.)"""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
import yaml
from nats.aio.client import Client

import parley_contracts as c
from parley_contracts import PRODUCERS
from parley_devstack import nats_accounts
from parley_devstack.chart import ROOT
from parley_devstack.nats_server import NatsServer
from parley_history.db import make_engine as history_engine
from parley_history.db import migrate_async as migrate_history
from parley_history.propagation import NatsErasureBus
from parley_history.request_reply import start_request_service
from parley_recordings.history_turns import nats_earlier_turns
from parley_recordings.objectstore import delete_objects_under
from parley_recordings.whole_session import WaitingForHistory
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from tests.support import eventually

from ..runtime.conftest import turn


def _users() -> dict[str, dict[str, dict[str, list[str]]]]:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "nats-values.yaml").read_text())
    users = values["config"]["merge"]["accounts"]["PARLEY"]["users"]
    return {u["user"]: u.get("permissions", {}) for u in users}


def test_each_service_may_publish_the_events_it_produces_and_no_others() -> None:
    users = _users()
    for service in ("agent", "rooms", "recordings", "history", "insights", "webhooks"):
        granted = {s for s in users[service]["publish"]["allow"] if s.startswith("voice.")}
        produced = {f"voice.{t.tag()}.>" for t, producers in PRODUCERS.items() if service in producers}
        assert granted == produced, service


def test_services_only_touch_their_own_durable() -> None:
    users = _users()
    for service in ("history", "rooms", "recordings", "insights", "webhooks"):
        allowed = users[service]["publish"]["allow"]
        durables = {s.split(".")[-1] for s in allowed if s.startswith("$JS.API.CONSUMER.MSG.NEXT.VOICE.")}
        assert durables == {service}
        assert not any(s.startswith("$JS.API.STREAM.CREATE") or s == ">" for s in allowed)


async def _voice_messages(admin: Client) -> int:
    return int((await admin.jetstream().stream_info("VOICE")).state.messages)


REFUSED = (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.APIError)


def server_log(secured: tuple[NatsServer, dict[str, str]]) -> str:
    return Path(secured[0].log_path or "").read_text(errors="replace")


async def test_the_charts_users_are_refused_what_their_service_must_not_do(
    secured: tuple[NatsServer, dict[str, str]], login: dict[str, Client]
) -> None:
    event = c.RoomCreated(
        event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id="conv-1", producer="test",
        room_name="room-1", at=c.utcnow(),
    )  # fmt: skip
    with pytest.raises(REFUSED):  # the agent does not create rooms
        await login["agent"].jetstream().publish(c.subject_for(event), c.encode(event), timeout=0.5)
    with pytest.raises(REFUSED):  # history changes no stream
        await login["history"].jetstream(timeout=0.5).add_stream(name="EVIL", subjects=["evil.>"])
    with pytest.raises(REFUSED):  # recordings reads only its own durable
        await login["recordings"].request("$JS.API.CONSUMER.MSG.NEXT.VOICE.history", b'{"batch":1}', timeout=0.5)
    assert await _voice_messages(login["parley-admin"]) == 0
    refused = await eventually(  # the server writes its log as it goes
        lambda: [v for v in nats_accounts.violations(server_log(secured)) if '"PARLEY/user:recordings"' in v],
        what="the refusal in the server's log",
    )
    assert any("Publish Violation" in line for line in refused), refused  # the demo's check
    # What they may do still works: the agent stores a turn.
    stored = turn(1)
    ack = await login["agent"].jetstream().publish(c.subject_for(stored), c.encode(stored), timeout=2)
    assert ack.stream == "VOICE"
    assert await _voice_messages(login["parley-admin"]) == 1


async def test_the_agents_backlog_goes_as_fast_ingest_batches_under_its_own_user(
    secured: tuple[NatsServer, dict[str, str]], login: dict[str, Client]
) -> None:
    server, passwords = secured
    outbox = Outbox(NatsSettings(url=server.url, user="agent", password=passwords["agent"]), name="agent").start()
    await outbox.connected()
    for seq in range(1, 301):  # a burst: windows of 32 and more go as batches
        outbox.emit(turn(seq))
    assert await outbox.drain(30)
    assert outbox.publisher is not None and outbox.publisher.fast is not None
    assert outbox.publisher.fast.stats["stored"] > 0
    await outbox.close()
    assert await _voice_messages(login["parley-admin"]) == 300


async def test_an_erasure_propagates_under_the_charts_users(login: dict[str, Client]) -> None:
    admin = login["parley-admin"].jetstream()
    for event in (turn(1), turn(2)):
        await login["agent"].jetstream().publish(c.subject_for(event), c.encode(event), timeout=2)
    await admin.publish("dlq.voice.turn_completed.v1.conv-1", b"{}", timeout=2)
    await login["agent"].jetstream().object_store("voice-audio")
    store = await admin.object_store("voice-audio")
    await store.put("conv-1/sess-1/audio.ogg", b"OggS")
    await store.put("conv-2/sess-1/audio.ogg", b"OggS")

    bus = NatsErasureBus(login["history"], timeout=2)  # what history's propagation does
    gone = c.ConversationErased(event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id="conv-1",
                                producer="history")  # fmt: skip
    await bus.publish(gone)
    await bus.purge("conv-1")
    voice = await admin.stream_info("VOICE", subjects_filter=">")
    assert voice.state.subjects == {"voice.conversation_erased.v1.conv-1": 1}
    assert (await admin.stream_info("DLQ")).state.messages == 0
    # Recordings sweeps the object store: listing it and deleting the conversation's audio.
    assert await delete_objects_under(login["recordings"].jetstream(timeout=2), "voice-audio", "conv-1/") == 1
    assert [i.name for i in await store.list(ignore_deletes=True)] == ["conv-2/sess-1/audio.ogg"]
    with pytest.raises(REFUSED):  # history purges, but deletes no stream
        await login["history"].jetstream(timeout=0.5).delete_stream("VOICE")


async def test_recordings_may_ask_history_for_a_sessions_earlier_turns(
    login: dict[str, Client], database_url: str
) -> None:
    await migrate_history(database_url)
    engine = history_engine(database_url, pool_size=1)
    service = await start_request_service(login["history"], engine, version="0.0.1", timeout=2)
    try:
        # An answer at all (empty: no such session) is the point: a refusal either way would time out.
        assert await nats_earlier_turns(login["recordings"], timeout=2)("sess-1", 10) == []
        with pytest.raises(WaitingForHistory):  # the agent has no business there
            await nats_earlier_turns(login["agent"], timeout=0.5)("sess-1", 10)
    finally:
        await service.stop()
        await engine.dispose()
