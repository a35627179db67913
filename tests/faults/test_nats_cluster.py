"""Failover: a three-node NATS cluster with R3 streams, leaders SIGKILLed while turns flow.

The agent's outbox and the history service are given every node's URL, as in a Kubernetes deployment of
a NATS cluster. The node that leads `VOICE` dies mid-stream and comes back a couple of seconds later; then
the node that leads history's consumer does the same. Each turn must end in Postgres exactly once, with no
hand-holding from the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from parley_contracts.streams import VOICE_STREAM_NAME
from parley_devstack.nats_cluster import NatsCluster
from parley_devstack.testing import events_in
from parley_history.db import migrate_async
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.messaging.provision import ProvisionSettings, provision
from tests.support.db import count, count_settled
from tests.support.processes import emit_then_sigkill, spawn_history

from ..history.conftest import turn

pytestmark = [pytest.mark.fault, pytest.mark.slow]

TURNS = 6000
CONVERSATIONS = 40


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "nats", log_dir=tmp_path).start()
    try:
        await nodes.wait_ready()
        yield nodes
    finally:
        nodes.stop()


async def test_stream_and_consumer_leaders_sigkilled_mid_stream_lose_and_duplicate_no_turn(
    cluster: NatsCluster, database_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(servers=[node.url for node in cluster.nodes])
    await provision(nc.jetstream(), ProvisionSettings(replicas=3, ack_wait_seconds=5))
    info = await nc.jetstream().stream_info(VOICE_STREAM_NAME)
    assert info.config.num_replicas == 3
    await migrate_async(database_url)
    history = spawn_history(database_url, cluster.url, tmp_path / "history.log")
    outbox = Outbox(NatsSettings(url=cluster.url), name="cluster-agent", maxsize=TURNS + 1).start()
    await outbox.connected()
    events = [
        turn(f"conv-{i % CONVERSATIONS}", f"sess-{i % CONVERSATIONS}", i // CONVERSATIONS + 1) for i in range(TURNS)
    ]
    try:
        killed = []
        for i, event in enumerate(events):
            outbox.emit(event)
            if i == TURNS // 5:  # the node leading the stream: windows in flight, batches unanswered
                killed.append(await cluster.leader(VOICE_STREAM_NAME))
                killed[-1].kill()
            if i == 2 * TURNS // 5:
                killed[-1].start()  # rejoins as itself and catches up from its peers
            if i == 3 * TURNS // 5:  # then the node leading history's consumer: its pull requests die with it
                killed.append(await cluster.leader(VOICE_STREAM_NAME, "history"))
                killed[-1].kill()
            if i == 4 * TURNS // 5:
                killed[-1].start()
            if i % 50 == 49:
                await asyncio.sleep(0.05)  # ~1,000 turns/s: the calls go on while the cluster fails over
        assert await outbox.drain(timeout=90), f"{outbox.backlog} turns never acknowledged"
        # The backlog went as fast-ingest batches on the replicated stream too.
        assert outbox.publisher is not None and outbox.publisher.fast is not None
        assert outbox.publisher.fast.stats["stored"] > 0
        stored = await count_settled(database_url, "SELECT count(*) FROM history.turns", TURNS, timeout=120)
        assert stored == TURNS
        assert await count(database_url, "SELECT count(DISTINCT event_id) FROM history.turns") == TURNS
        # The killed nodes are back as members of the stream's group.
        await cluster.leader(VOICE_STREAM_NAME)
        info = await nc.jetstream().stream_info(VOICE_STREAM_NAME)
        assert info.cluster is not None and info.cluster.replicas is not None
        assert {peer.name for peer in info.cluster.replicas} | {info.cluster.leader} == {n.name for n in cluster.nodes}
    finally:
        await outbox.close()
        history.terminate()
        history.wait(20)
        await nc.close()


async def test_a_process_sigkilled_while_the_stream_has_no_quorum_keeps_what_it_emitted(
    cluster: NatsCluster, tmp_path: Path
) -> None:
    """Two of three nodes gone: the one left answers the connection but cannot store (no quorum for the R3
    stream), so the outbox keeps its backlog on disk, as in an outage, and nothing is lost to a SIGKILL."""
    await cluster.ask(lambda js: provision(js, ProvisionSettings(replicas=3)))
    survivor, *lost = cluster.nodes
    for node in lost:
        node.kill()
    spill = tmp_path / "outbox.jsonl"
    # Past the 2 s PubAck timeout of the first window, its back-off, and the move to disk.
    emitted = await emit_then_sigkill(survivor.url, spill, 300, after=4.0)
    assert spill.stat().st_size > 0

    for node in lost:
        node.start()
    await cluster.leader(VOICE_STREAM_NAME)
    replay = Outbox(NatsSettings(url=cluster.url), name="replay", spill_path=spill).start()
    assert await replay.drain(60), f"{replay.backlog} events never acknowledged"
    await replay.close()
    # Asked again by `cluster.ask` while a node still catches up.
    assert sorted(str(e.event_id) for e in await cluster.ask(events_in)) == sorted(emitted)
