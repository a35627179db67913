"""Dead letters back to work: list what is in the DLQ, and replay chosen ones to their original subject.

`dead_letters` describes each dead letter: its DLQ sequence, when it died, its original subject and event
id, the consumer that gave up on it, after how many deliveries, and why. Never its payload: transcript
text stays out of terminals and logs.

`replay` publishes a dead letter's original payload and headers to its original subject (so to `VOICE`)
and, once JetStream has stored it, deletes it from the DLQ: after a fix, the consumer gets it as a new
message, and if it fails again it comes back to the DLQ with its new reason. Every consumer of the subject
sees it again; they are idempotent, so those that had stored it store nothing twice. The replay's
`Nats-Msg-Id` is `redrive:<dlq seq>`: a replay repeated within the de-duplication window (a retry after a
lost answer) publishes it once.

`discard` deletes chosen dead letters without replaying them (a poison message nobody will fix). The `parley dlq`
command and the console's /ops page both use these three functions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from parley_contracts.streams import DLQ_STREAM_NAME
from parley_runtime.messaging.dlq import (
    CONSUMER_HEADER,
    DELIVERIES_HEADER,
    ORIGINAL_ID_HEADER,
    REASON_HEADER,
    SEQ_HEADER,
)

DLQ_PREFIX = "dlq."
REDRIVEN_FROM_HEADER = "Parley-Redriven-From"  # the DLQ sequence a replayed message came from (for audits)
# Stripped on replay; the original id stays, so a replay that dies again is listed under its event id.
_DLQ_HEADERS = {CONSUMER_HEADER, DELIVERIES_HEADER, REASON_HEADER, SEQ_HEADER}


@dataclass(frozen=True)
class Pick:
    """Which dead letters an action takes beyond the sequences it names, and what a missing one means."""

    every: bool = False  # every dead letter (of `consumer`), oldest first, up to `limit`
    consumer: str | None = None
    limit: int = 1000
    skip_gone: bool = False  # a letter replayed or deleted by someone else meanwhile is passed over, not an error


@dataclass(frozen=True)
class DeadLetter:
    seq: int  # in the DLQ stream: what `replay` takes
    died_at: datetime | None
    subject: str  # the original subject
    event_id: str
    consumer: str
    deliveries: str
    reason: str


def _describe(msg: RawStreamMsg) -> DeadLetter:
    headers = msg.headers or {}
    return DeadLetter(
        seq=int(msg.seq or 0),
        died_at=msg.time,
        subject=(msg.subject or "").removeprefix(DLQ_PREFIX),
        event_id=str(headers.get(ORIGINAL_ID_HEADER, "")),
        consumer=str(headers.get(CONSUMER_HEADER, "")),
        deliveries=str(headers.get(DELIVERIES_HEADER, "")),
        reason=str(headers.get(REASON_HEADER, "")),
    )


async def _stored(
    js: JetStreamContext, *, consumer: str | None, limit: int, through: int | None = None
) -> AsyncIterator[RawStreamMsg]:
    """The oldest `limit` dead letters (of one consumer, if given) up to sequence `through`, in DLQ order, read
    once each."""
    seq, found = 1, 0
    while found < limit:
        try:
            # The next stored message from `seq` on: deleted (replayed) ones leave gaps.
            msg = await js.get_msg(DLQ_STREAM_NAME, seq, subject=f"{DLQ_PREFIX}>", next=True)
        except NotFoundError:
            return
        seq = int(msg.seq or seq) + 1
        if through is not None and seq > through + 1:
            return
        if consumer is None or (msg.headers or {}).get(CONSUMER_HEADER) == consumer:
            found += 1
            yield msg


async def _picked(js: JetStreamContext, seqs: Iterable[int], pick: Pick) -> AsyncIterator[RawStreamMsg]:
    """The dead letters an action names: `seqs`, or with `pick.every` each one (of `pick.consumer`) up to
    `pick.limit`. A sequence not in the DLQ raises `NotFoundError`, unless `pick.skip_gone`."""
    if pick.every:
        # Only the letters there now: a replayed letter that dies again comes back after them, and is not
        # replayed again in the same pass.
        last = (await js.stream_info(DLQ_STREAM_NAME)).state.last_seq
        async for msg in _stored(js, consumer=pick.consumer, limit=pick.limit, through=last):
            yield msg
        return
    for seq in seqs:
        try:
            msg = await js.get_msg(DLQ_STREAM_NAME, seq)
        except NotFoundError:
            if pick.skip_gone:
                continue
            raise
        yield msg


async def dead_letters(js: JetStreamContext, *, consumer: str | None = None, limit: int = 100) -> list[DeadLetter]:
    """The oldest `limit` dead letters (of one consumer, if given), in DLQ order."""
    return [_describe(msg) async for msg in _stored(js, consumer=consumer, limit=limit)]


async def _deleted(js: JetStreamContext, seq: int, pick: Pick) -> bool:
    """Deletes a dead letter; False when another replay or delete took it first and `pick.skip_gone`."""
    try:
        await js.delete_msg(DLQ_STREAM_NAME, seq)
    except NotFoundError:
        if pick.skip_gone:
            return False
        raise
    return True


async def replay(
    js: JetStreamContext, seqs: Iterable[int] = (), pick: Pick | None = None, *, keep: bool = False
) -> list[DeadLetter]:
    """Publish each dead letter `seqs` (or `pick`) names to its original subject; delete it from the DLQ unless
    `keep`. Returns those replayed. A sequence that is not in the DLQ (already replayed, expired) raises
    `NotFoundError` before anything is published for it, unless `pick.skip_gone`; those before it stay replayed.
    """
    pick = pick or Pick()
    done: list[DeadLetter] = []
    async for msg in _picked(js, seqs, pick):
        letter = _describe(msg)
        headers = {k: v for k, v in (msg.headers or {}).items() if k not in _DLQ_HEADERS}
        headers["Nats-Msg-Id"] = f"redrive:{letter.seq}"  # a second replay of it in the window is the same message
        headers[REDRIVEN_FROM_HEADER] = str(letter.seq)
        await js.publish(letter.subject, msg.data or b"", headers=headers, timeout=5)
        if keep or await _deleted(js, letter.seq, pick):
            done.append(letter)
    return done


async def discard(js: JetStreamContext, seqs: Iterable[int] = (), pick: Pick | None = None) -> list[DeadLetter]:
    """Delete each dead letter `seqs` (or `pick`) names from the DLQ for good; returns those deleted. A sequence
    not in the DLQ raises `NotFoundError`, unless `pick.skip_gone`; those before it stay deleted."""
    pick = pick or Pick()
    done: list[DeadLetter] = []
    async for msg in _picked(js, seqs, pick):
        letter = _describe(msg)
        if await _deleted(js, letter.seq, pick):
            done.append(letter)
    return done
