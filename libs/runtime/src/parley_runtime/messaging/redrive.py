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

from collections.abc import Iterable
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


async def dead_letters(js: JetStreamContext, *, consumer: str | None = None, limit: int = 100) -> list[DeadLetter]:
    """The oldest `limit` dead letters (of one consumer, if given), in DLQ order."""
    found: list[DeadLetter] = []
    seq = 1
    while len(found) < limit:
        try:
            # The next stored message from `seq` on: deleted (replayed) ones leave gaps.
            msg = await js.get_msg(DLQ_STREAM_NAME, seq, subject=f"{DLQ_PREFIX}>", next=True)
        except NotFoundError:
            break
        letter = _describe(msg)
        if consumer is None or letter.consumer == consumer:
            found.append(letter)
        seq = letter.seq + 1
    return found


async def replay(js: JetStreamContext, seqs: Iterable[int], *, keep: bool = False) -> list[DeadLetter]:
    """Publish each dead letter to its original subject; delete it from the DLQ unless `keep`.

    Returns those replayed. A sequence that is not in the DLQ (already replayed, expired) raises
    `NotFoundError` before anything is published for it; those before it stay replayed.
    """
    done: list[DeadLetter] = []
    for seq in seqs:
        msg = await js.get_msg(DLQ_STREAM_NAME, seq)
        letter = _describe(msg)
        headers = {k: v for k, v in (msg.headers or {}).items() if k not in _DLQ_HEADERS}
        headers["Nats-Msg-Id"] = f"redrive:{seq}"
        headers[REDRIVEN_FROM_HEADER] = str(seq)
        await js.publish(letter.subject, msg.data or b"", headers=headers, timeout=5)
        if not keep:
            await js.delete_msg(DLQ_STREAM_NAME, seq)
        done.append(letter)
    return done


async def discard(js: JetStreamContext, seqs: Iterable[int]) -> list[DeadLetter]:
    """Delete each dead letter from the DLQ for good; returns those deleted. A sequence not in the DLQ raises
    `NotFoundError`; those before it stay deleted."""
    done: list[DeadLetter] = []
    for seq in seqs:
        letter = _describe(await js.get_msg(DLQ_STREAM_NAME, seq))
        await js.delete_msg(DLQ_STREAM_NAME, seq)
        done.append(letter)
    return done


async def chosen(js: JetStreamContext, seqs: Iterable[int], *, every: bool, consumer: str | None = None,
                 limit: int = 1000) -> list[int]:  # fmt: skip
    """The sequences an action names: `seqs`, or with `every` each dead letter (of `consumer`) up to `limit`."""
    if every:
        return [d.seq for d in await dead_letters(js, consumer=consumer, limit=limit)]
    return list(seqs)
