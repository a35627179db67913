"""A process killed with its outbox unflushed, during an outage or while JetStream refuses to store, loses
nothing it emitted: the spill file holds it for the next start."""

import logging
from pathlib import Path

import nats
import pytest

from parley_devstack.nats_server import NatsServer
from parley_devstack.ports import free_port
from parley_devstack.testing import provisioned
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import OUTAGE_SPILL_SECONDS, Outbox
from tests.support import eventually
from tests.support.processes import emit_then_sigkill

from .conftest import stream_event_ids


async def test_a_process_sigkilled_during_a_nats_outage_keeps_what_it_emitted(
    embedded_nats: NatsServer, tmp_path: Path
) -> None:
    """Far below the in-memory bound, yet on disk: an outage moves the backlog to the spill file."""
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    spill = tmp_path / "outbox.jsonl"
    emitted = await emit_then_sigkill(embedded_nats.url, spill, 300, after=3 * OUTAGE_SPILL_SECONDS)

    embedded_nats.start()
    replay = Outbox(NatsSettings(url=embedded_nats.url), name="replay", spill_path=spill).start()
    assert await replay.drain(30)
    await replay.close()
    assert sorted(await stream_event_ids(embedded_nats.url)) == sorted(emitted)


async def _fill_until_refused(url: str) -> int:
    """Publish to VOICE until JetStream answers "insufficient resources" (its store is full); how many fit."""
    nc = await nats.connect(url)
    try:
        for i in range(100_000):
            answer = await nc.request(f"voice.filler.v1.c{i}", b"x" * 1000, timeout=5, headers={"Nats-Msg-Id": f"f{i}"})
            if b'"error"' in answer.data:
                assert b"insufficient resources" in answer.data, answer.data
                return i
        raise AssertionError("JetStream never filled up")
    finally:
        await nc.close()


async def test_a_process_sigkilled_while_jetstream_refuses_to_store_keeps_what_it_emitted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """NATS answers, but its JetStream store is full: the backlog waits on disk as in an outage, not in memory,
    the outbox says why, and once there is space again everything lands."""
    caplog.set_level(logging.INFO, logger="parley_runtime.messaging.outbox")
    config = tmp_path / "nats.conf"
    config.write_text("jetstream { max_file_store: 1MB, max_memory_store: 1MB }\n")
    server = NatsServer(tmp_path / "nats", port=free_port(), config=config).start()
    try:
        await provisioned(server.url)
        filled = await _fill_until_refused(server.url)
        assert filled > 100
        spill = tmp_path / "outbox.jsonl"
        # Time for a refused window, its back-off, and the move to disk.
        emitted = await emit_then_sigkill(server.url, spill, 300, after=1.0)
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        assert (await js.stream_info("VOICE")).state.messages == filled  # none of the 300 was stored
        replay = Outbox(NatsSettings(url=server.url), name="replay", spill_path=spill).start()
        refused = await eventually(
            lambda: [r for r in caplog.records if r.getMessage() == "JetStream is not storing events"],
            timeout=10,
            what="the refusal logged",
        )
        assert "insufficient resources" in refused[0].__dict__["error"]
        await js.purge_stream("VOICE")  # space again
        await nc.close()
        assert await replay.drain(30)
        await replay.close()
        assert any(r.getMessage() == "JetStream stores events again" for r in caplog.records)
        assert sorted(await stream_event_ids(server.url)) == sorted(emitted)
    finally:
        server.stop()
