"""`parley dlq list|replay|delete` against a real JetStream: dead letters listed without their text, replayed
once, deleted for good."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

import parley_contracts as c
from parley_runtime.cli import main
from parley_runtime.messaging.handling import Delivery, PoisonError
from parley_runtime.messaging.redrive import REDRIVEN_FROM_HEADER, Pick, dead_letters, discard, replay
from tests.support import eventually

from .conftest import Running, headers_for, turn

SECRET = "my card number is 4111 1111 1111 1111"


class Service:
    """history's durable with a handler that rejects `SECRET` turns until fixed, and the DLQ copier."""

    def __init__(self) -> None:
        self.fixed = False
        self.handled: list[c.AnyEvent] = []

    async def handle(self, batch: Sequence[Delivery]) -> None:
        for d in batch:
            if isinstance(d.event, c.TurnCompleted) and d.event.text == SECRET and not self.fixed:
                raise PoisonError("card numbers are refused")
        self.handled.extend(d.event for d in batch)


@pytest.fixture
async def service(nc: Client) -> AsyncIterator[Service]:
    service = Service()
    running = Running(nc, service.handle)
    yield service
    await running.close()


async def _poisoned(nc: Client, service: Service) -> c.TurnCompleted:
    """Three turns, the second dead-lettered; returns it once it is in the DLQ."""
    js = nc.jetstream()
    events = [turn(i, text=SECRET if i == 2 else "fine") for i in (1, 2, 3)]
    for e in events:
        await js.publish(c.subject_for(e), c.encode(e), headers=headers_for(e))
    await eventually(lambda: dead_letters(js), what="the dead letter")
    await eventually(lambda: len(service.handled) == 2)
    return events[1]


def _cli(nats_url: str, *args: str) -> int:
    return main(["dlq", *args], environ={"PARLEY_NATS_URL": nats_url})


async def test_dead_letters_are_listed_with_their_reason_and_never_their_text(
    nc: Client, nats_url: str, service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    poisoned = await _poisoned(nc, service)
    assert await asyncio.to_thread(_cli, nats_url, "list") == 0
    out = capsys.readouterr().out
    assert "rejected: card numbers are refused" in out and str(poisoned.event_id) in out
    assert SECRET not in out and "4111" not in out
    assert await asyncio.to_thread(_cli, nats_url, "list", "--json") == 0
    (line,) = capsys.readouterr().out.splitlines()
    letter = json.loads(line)
    assert letter["subject"] == c.subject_for(poisoned)
    assert letter["consumer"] == "history" and letter["event_id"] == str(poisoned.event_id)
    assert await asyncio.to_thread(_cli, nats_url, "list", "--consumer", "recordings") == 0
    listed = capsys.readouterr()
    assert listed.out == "" and "no dead letter(s)" in listed.err


async def test_a_replayed_dead_letter_reaches_the_fixed_handler_once_and_leaves_the_dlq(
    nc: Client, nats_url: str, service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    poisoned = await _poisoned(nc, service)
    (letter,) = await dead_letters(nc.jetstream())
    service.fixed = True
    # Replayed twice with --keep, then for good: the same redrive id each time, so published once.
    assert await asyncio.to_thread(_cli, nats_url, "replay", str(letter.seq), "--keep") == 0
    assert await asyncio.to_thread(_cli, nats_url, "replay", str(letter.seq), "--keep") == 0
    capsys.readouterr()
    assert await asyncio.to_thread(_cli, nats_url, "replay", "--all") == 0
    assert "replayed 1 dead letter(s)" in capsys.readouterr().err
    await eventually(lambda: any(e.event_id == poisoned.event_id for e in service.handled))
    await asyncio.sleep(1)  # time for a second copy to arrive, were there one
    assert [e.event_id for e in service.handled].count(poisoned.event_id) == 1
    assert await dead_letters(nc.jetstream()) == []
    capsys.readouterr()
    assert await asyncio.to_thread(_cli, nats_url, "replay", str(letter.seq)) == 1
    assert "not in the DLQ" in capsys.readouterr().err


async def test_a_replay_that_fails_again_comes_back_with_its_new_reason(nc: Client, service: Service) -> None:
    await _poisoned(nc, service)
    js = nc.jetstream()
    (first,) = await dead_letters(js)
    await replay(js, [first.seq])  # the handler is not fixed
    letters = await eventually(lambda: dead_letters(js), what="the failed replay back in the DLQ")
    (again,) = letters
    assert again.seq > first.seq and again.event_id == first.event_id
    assert again.reason == "rejected: card numbers are refused"
    msg = await js.get_msg("DLQ", again.seq)
    assert msg.headers and msg.headers[REDRIVEN_FROM_HEADER] == str(first.seq)


async def test_a_deleted_dead_letter_is_gone_and_never_reaches_the_handler(
    nc: Client, nats_url: str, service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    poisoned = await _poisoned(nc, service)
    (letter,) = await dead_letters(nc.jetstream())
    service.fixed = True
    assert await asyncio.to_thread(_cli, nats_url, "delete", str(letter.seq)) == 0
    assert "deleted 1 dead letter(s)" in capsys.readouterr().err
    assert await dead_letters(nc.jetstream()) == []
    assert await asyncio.to_thread(_cli, nats_url, "delete", "--all") == 0  # nothing left: nothing to do
    assert "deleted 0 dead letter(s)" in capsys.readouterr().err
    assert poisoned.event_id not in [e.event_id for e in service.handled]


@pytest.mark.parametrize("action", ["replay", "delete"])
def test_an_action_without_sequences_or_all_is_refused(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["dlq", action], environ={"PARLEY_NATS_URL": "nats://127.0.0.1:1"})
    assert exit_.value.code == 2
    assert f"dlq {action}: name the sequences, or --all" in capsys.readouterr().err


class DiesAgainAtOnce(JetStreamContext):
    """Each replay returns only once the handler (not fixed) has sent it back to the DLQ: the new dead letter is
    there before the pass reads on."""

    async def publish(self, subject: str, payload: bytes = b"", *args: Any, **kwargs: Any) -> Any:
        ack = await super().publish(subject, payload, *args, **kwargs)
        before = int(kwargs["headers"][REDRIVEN_FROM_HEADER])
        await eventually(lambda: _back(self, before), what="the replay back in the DLQ")
        return ack


async def _back(js: JetStreamContext, replayed_seq: int) -> bool:
    return any(d.seq > replayed_seq for d in await dead_letters(js))


async def test_replaying_every_letter_takes_those_there_at_the_start_once(nc: Client, service: Service) -> None:
    await _poisoned(nc, service)
    js = DiesAgainAtOnce(nc)
    (first,) = await dead_letters(js)
    replayed = await replay(js, pick=Pick(every=True, limit=3))
    assert [d.seq for d in replayed] == [first.seq]  # not its return, nor that one's, up to the limit
    (again,) = await dead_letters(js)
    assert again.seq > first.seq


async def test_a_letter_gone_meanwhile_is_skipped_when_asked_and_an_error_otherwise(
    nc: Client, service: Service
) -> None:
    await _poisoned(nc, service)
    js = nc.jetstream()
    (letter,) = await dead_letters(js)
    assert await discard(js, [letter.seq]) == [letter]
    assert await replay(js, [letter.seq], Pick(skip_gone=True)) == []
    assert await discard(js, [letter.seq], Pick(skip_gone=True)) == []
    with pytest.raises(NotFoundError):
        await replay(js, [letter.seq])
