"""The documented NATS accounts give each service exactly the event subjects it produces."""

from __future__ import annotations

import yaml

from parley_contracts import PRODUCERS
from parley_devstack.chart import ROOT


def _users() -> dict[str, dict[str, list[str]]]:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "nats-values.yaml").read_text())
    users = values["config"]["merge"]["accounts"]["PARLEY"]["users"]
    return {u["user"]: u.get("permissions", {}) for u in users}


def test_each_service_may_publish_the_events_it_produces_and_no_others() -> None:
    users = _users()
    for event_type, producer in PRODUCERS.items():
        subject = f"voice.{event_type.tag()}.>"
        for service in ("agent", "rooms", "recordings", "history"):
            allowed = users[service]["publish"]["allow"]
            voice = {s for s in allowed if s.startswith("voice.")}
            if service == producer:
                assert subject in voice, (service, subject)
    rooms_extra = {"voice.participant_joined.v1.>", "voice.participant_left.v1.>"}  # from LiveKit webhooks
    assert {s for s in users["history"]["publish"]["allow"] if s.startswith("voice.")} == set()
    assert {s for s in users["rooms"]["publish"]["allow"] if s.startswith("voice.")} == {
        "voice.room_created.v1.>", "voice.room_finished.v1.>", *rooms_extra}  # fmt: skip


def test_services_only_touch_their_own_durable() -> None:
    users = _users()
    for service in ("history", "rooms", "recordings"):
        allowed = users[service]["publish"]["allow"]
        durables = {s.split(".")[-1] for s in allowed if s.startswith("$JS.API.CONSUMER.MSG.NEXT.VOICE.")}
        assert durables == {service}
        assert not any(s.startswith("$JS.API.STREAM.CREATE") or s == ">" for s in allowed)
