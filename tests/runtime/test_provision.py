"""`parley provision` creates everything once and is a no-op the second time."""

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from parley_contracts.streams import AUDIO_BUCKET
from parley_runtime.cli import main
from parley_runtime.messaging.provision import ProvisionSettings, provision


async def test_provision_twice_changes_nothing_the_second_time(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    first = await provision(js)
    assert {ch.action for ch in first} == {"created"}
    before = {name: (await js.stream_info(name)).config for name in ("VOICE", "DLQ", "VOICE_ADVISORIES")}
    history_before = await js.consumer_info("VOICE", "history")

    second = await provision(js)

    assert {ch.action for ch in second} == {"unchanged"}
    assert [ch.name for ch in second] == [ch.name for ch in first]
    for name, config in before.items():
        assert (await js.stream_info(name)).config == config
    history_after = await js.consumer_info("VOICE", "history")
    assert history_after.created == history_before.created
    await nc.close()


async def test_an_earlier_history_durable_with_three_filters_is_widened_in_place(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    earlier = [f"voice.{t}.v1.*" for t in ("session_started", "turn_completed", "session_ended")]
    await js.add_consumer(
        "VOICE",
        ConsumerConfig(
            durable_name="history",
            ack_policy=AckPolicy.EXPLICIT,
            max_deliver=40,
            ack_wait=30,
            max_ack_pending=10_000,
            filter_subjects=earlier,
        ),
    )
    created = (await js.consumer_info("VOICE", "history")).created
    await js.publish("voice.turn_completed.v1.c-1", b"{}", headers={"Nats-Msg-Id": "kept-1"})

    changes = {ch.name: ch.action for ch in await provision(js)}

    assert changes["VOICE/history"] == "updated"
    info = await js.consumer_info("VOICE", "history")
    assert (info.config.filter_subjects or [info.config.filter_subject]) == ["voice.>"]
    assert info.created == created  # the same durable: its position and pending message are kept
    assert info.num_pending == 1
    await nc.close()


async def test_provision_updates_a_changed_setting_in_place(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    changes = await provision(js, ProvisionSettings(voice_max_age_days=7))
    actions = {ch.name: ch.action for ch in changes}
    assert actions["VOICE"] == "updated"
    assert actions["DLQ"] == "unchanged"
    config: StreamConfig = (await js.stream_info("VOICE")).config
    assert config.max_age == 7 * 24 * 3600
    await nc.close()


async def test_provisioned_stream_and_consumers_match_the_design(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    voice = (await js.stream_info("VOICE")).config
    assert voice.subjects == ["voice.>"]
    assert voice.duplicate_window == 600
    assert voice.max_age == 30 * 24 * 3600
    for durable in ("history", "rooms", "recordings"):
        consumer = (await js.consumer_info("VOICE", durable)).config
        assert consumer.max_deliver and 0 < consumer.max_deliver < 1000
        assert consumer.filter_subjects
    rooms = (await js.consumer_info("VOICE", "rooms")).config
    assert sorted(rooms.filter_subjects or []) == [
        "voice.conversation_erased.v1.*",
        "voice.session_ended.v1.*",
        "voice.session_started.v1.*",
    ]
    # history takes the whole stream with one filter (cheaper for the server) and skips what it does not handle
    history = (await js.consumer_info("VOICE", "history")).config
    assert (history.filter_subjects or [history.filter_subject]) == ["voice.>"]
    assert (await js.object_store(AUDIO_BUCKET)) is not None
    await nc.close()


def test_cli_provision_reports_each_object(nats_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["provision"], environ={"PARLEY_NATS_URL": nats_url}) == 0
    assert main(["provision"], environ={"PARLEY_NATS_URL": nats_url}) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("created") and "VOICE" in line for line in out)
    assert sum(line.startswith("unchanged") for line in out) == len(out) // 2


def test_cli_names_the_bad_variable(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["provision"], environ={"PARLEY_NATS_CONNECT_TIMEOUT": "soon"}) == 2
    assert "PARLEY_NATS_CONNECT_TIMEOUT" in capsys.readouterr().err
