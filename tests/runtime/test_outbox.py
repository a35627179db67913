"""The outbox never blocks the producer and loses nothing across NATS outages and crashes."""

import asyncio
import inspect
import time
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client

from parley_devstack.nats_server import NatsServer
from parley_devstack.testing import provisioned
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import OUTAGE_SPILL_SECONDS, Outbox
from parley_runtime.messaging.spill import RETRY_SECONDS
from tests.support import eventually

from .conftest import message, stream_event_ids, turn


def test_emit_is_synchronous() -> None:
    assert not inspect.iscoroutinefunction(Outbox.emit)


async def test_emits_with_nats_down_all_land_exactly_once_after_restart(embedded_nats: NatsServer) -> None:
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    outbox = Outbox(NatsSettings(url=embedded_nats.url, connect_timeout=0.5), name="test").start()
    events = [turn(i + 1) for i in range(1000)]

    started = time.perf_counter()
    for e in events:
        outbox.emit(e)
    elapsed = time.perf_counter() - started

    # 1,000 emits that waited on the network even once would take seconds; these only queue.
    assert elapsed < 1.0, elapsed
    assert outbox.backlog == 1000
    await asyncio.sleep(0.5)  # NATS still down: nothing can be published
    assert outbox.published == 0

    embedded_nats.start()  # same store dir, same port
    assert await outbox.drain(30)
    await outbox.close()
    ids = await stream_event_ids(embedded_nats.url)
    assert sorted(ids) == sorted(str(e.event_id) for e in events)


async def test_sigkill_of_the_server_mid_run_loses_nothing_that_was_emitted(
    embedded_nats: NatsServer,
) -> None:
    await provisioned(embedded_nats.url)
    outbox = Outbox(NatsSettings(url=embedded_nats.url), name="test").start()
    events = [turn(i + 1) for i in range(3000)]
    for e in events[:1500]:
        outbox.emit(e)
    await eventually(lambda: outbox.published >= 500, interval=0.005, what="500 published")
    embedded_nats.kill()
    for e in events[1500:]:
        outbox.emit(e)
    await asyncio.sleep(1.0)  # an outage of a second, not a wait for a condition
    embedded_nats.start()
    assert await outbox.drain(60)
    await outbox.close()
    ids = await stream_event_ids(embedded_nats.url)
    assert len(ids) == len(set(ids)) == 3000
    # The backlog went as fast-ingest batches: the kill hit a stream published that way.
    assert outbox.publisher is not None and outbox.publisher.fast is not None
    assert outbox.publisher.fast.stats["stored"] > 0


async def test_overflow_spills_to_file_and_a_new_outbox_replays_it(embedded_nats: NatsServer, tmp_path: Path) -> None:
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    spill = tmp_path / "outbox.jsonl"
    settings = NatsSettings(url=embedded_nats.url, connect_timeout=0.5)
    first = Outbox(settings, name="test", maxsize=100, spill_path=spill).start()
    events = [turn(i + 1) for i in range(500)]
    for e in events:
        first.emit(e)
    assert first.spilled == 400
    # The process ends while NATS is down: what was in memory joins the spill file (the outage guard has
    # moved it there already), and close counts all of it as left for the next start.
    assert await first.close(timeout=0.2) == 500
    assert first.spilled == 500  # the guard's and close's writes are counted too
    assert len(spill.read_bytes().splitlines()) == 500

    embedded_nats.start()
    second = Outbox(settings, name="test", maxsize=100, spill_path=spill).start()
    assert await second.drain(30)
    await second.close()
    ids = await stream_event_ids(embedded_nats.url)
    assert sorted(ids) == sorted(str(e.event_id) for e in events)
    assert spill.read_bytes() == b""


async def test_in_an_outage_the_backlog_counts_every_event_waiting_on_disk_and_reading_it_does_no_io(
    embedded_nats: NatsServer, tmp_path: Path
) -> None:
    """The backlog gauge (and its alert) must see an outage's events once the guard moved them to disk, and the
    metrics exporter reads it from its own thread: reading must not write the spill file under the loop."""
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    spill = tmp_path / "outbox.jsonl"
    settings = NatsSettings(url=embedded_nats.url, connect_timeout=0.5)
    outbox = Outbox(settings, name="test", maxsize=100, spill_path=spill).start()
    events = [turn(i + 1) for i in range(1000)]
    for e in events[:500]:
        outbox.emit(e)
    await asyncio.sleep(OUTAGE_SPILL_SECONDS * 4)  # the guard moved them to disk
    for e in events[500:]:
        outbox.emit(e)  # the first 100 wait in memory, the rest go to the file, buffered until the guard runs
    written = spill.stat().st_size
    assert await asyncio.to_thread(lambda: outbox.backlog) == 1000
    assert spill.stat().st_size == written  # counted, not flushed from the exporter's thread
    await asyncio.sleep(OUTAGE_SPILL_SECONDS * 4)  # the guard's rounds, which flush the file
    assert outbox.backlog == 1000 and spill.stat().st_size > written
    embedded_nats.start()
    assert await outbox.drain(30)
    await outbox.close()
    assert outbox.backlog == 0
    assert sorted(await stream_event_ids(embedded_nats.url)) == sorted(str(e.event_id) for e in events)


async def test_events_spilled_after_a_torn_line_are_not_lost(embedded_nats: NatsServer, tmp_path: Path) -> None:
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    spill = tmp_path / "outbox.jsonl"
    before = [turn(i + 1) for i in range(3)]
    lines = [msgspec.json.encode(message(e)) + b"\n" for e in before]
    spill.write_bytes(b"".join(lines) + lines[0][:40])  # as a process killed mid-write leaves it
    settings = NatsSettings(url=embedded_nats.url, connect_timeout=0.2)
    after = [turn(i + 10) for i in range(5)]
    second = Outbox(settings, name="test", maxsize=1, spill_path=spill).start()
    for e in after:
        second.emit(e)
    await second.close(timeout=0)

    embedded_nats.start()
    replay = Outbox(settings, name="replay", spill_path=spill).start()
    assert await replay.drain(30)
    await replay.close()
    assert sorted(await stream_event_ids(embedded_nats.url)) == sorted(str(e.event_id) for e in before + after)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, where every write fails: disk full")
async def test_a_full_disk_in_an_outage_never_breaks_emit_and_what_memory_holds_lands(
    embedded_nats: NatsServer,
) -> None:
    await provisioned(embedded_nats.url)
    embedded_nats.stop()
    settings = NatsSettings(url=embedded_nats.url, connect_timeout=0.5)
    outbox = Outbox(settings, name="test", maxsize=100, spill_path=Path("/dev/full")).start()
    events = [turn(i + 1) for i in range(300)]
    for e in events[:50]:
        outbox.emit(e)
    await asyncio.sleep(OUTAGE_SPILL_SECONDS * 4)  # the guard moved them to disk, the write failed: back in memory
    for e in events[50:]:
        outbox.emit(e)  # never raises: 50 more fit in memory, 200 are dropped and counted
    assert outbox.dropped == 200
    embedded_nats.start()
    assert await outbox.drain(30)
    await outbox.close()
    assert sorted(await stream_event_ids(embedded_nats.url)) == sorted(str(e.event_id) for e in events[:100])


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, where every write fails: disk full")
async def test_overflow_a_full_disk_hands_back_is_published_without_waiting_for_another_emit(nats_url: str) -> None:
    # NATS is up: the overflow is spilled, the disk refuses it and hands it back to memory, and the publishing
    # loop (idle by then: its queue was empty and the file seemed read) must be woken for it. Nothing else
    # wakes it: no event is emitted after the burst.
    await provisioned(nats_url)
    outbox = Outbox(NatsSettings(url=nats_url), name="test", maxsize=10, spill_path=Path("/dev/full")).start()
    await asyncio.wait_for(outbox.connected(), 10)
    events = [turn(i + 1, conversation="conv-full-disk") for i in range(50)]
    for e in events:
        outbox.emit(e)  # 10 in memory, 40 to the spill file, whose write fails
    # Within the disk's retry pause: only being woken gets them out before the file is tried again, 5 s on.
    assert await outbox.drain(RETRY_SECONDS / 2), outbox.backlog
    await outbox.close()
    assert outbox.dropped == 0  # close dropped what the disk had refused, when drain did not count it
    published = [e for e in await stream_event_ids(nats_url) if e in {str(x.event_id) for x in events}]
    assert sorted(published) == sorted(str(e.event_id) for e in events)


async def test_overflow_without_spill_file_is_counted_as_dropped(nats_url: str) -> None:
    outbox = Outbox(NatsSettings(url="nats://127.0.0.1:1", connect_timeout=0.2), name="test", maxsize=10)
    for i in range(15):
        outbox.emit(turn(i + 1))
    assert outbox.dropped == 5
    assert outbox.backlog == 10


async def test_retry_after_lost_ack_is_deduplicated_by_event_id(nc: Client) -> None:
    outbox = Outbox(NatsSettings(), name="test", nc=nc).start()
    event = turn(1)
    outbox.emit(event)
    outbox.emit(event)  # a retry of the same event, e.g. after a lost ack
    assert await outbox.drain(10)
    await outbox.close()
    assert (await nc.jetstream().stream_info("VOICE")).state.messages == 1


@pytest.mark.parametrize("window", [1, 64])
async def test_events_are_published_with_msg_id_and_content_type(nc: Client, window: int) -> None:
    outbox = Outbox(NatsSettings(), name="test", nc=nc, window=window).start()
    event = turn(7)
    outbox.emit(event)
    assert await outbox.drain(10)
    msg = await nc.jetstream().get_msg("VOICE", 1)
    assert msg.subject == f"voice.turn_completed.v1.{event.conversation_id}"
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == str(event.event_id)
    assert msg.headers["content-type"] == "application/json"
    await outbox.close()
