"""What /ops shows and does: each consumer's backlog, and the dead letters (listed, replayed or deleted with the
same functions as `parley dlq`). The use cases see JetStream through the `Operations` Protocol; `NatsOperations`
is the real one. Never a payload: a dead letter is described by its subject, consumer, reason and time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, Protocol

import msgspec
import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from parley_contracts.streams import VOICE_STREAM_NAME, service_consumers
from parley_runtime.messaging import redrive
from parley_runtime.messaging.redrive import DeadLetter

LIST_LIMIT = 500  # dead letters a page shows, and an "all" action takes, at most


class ConsumerState(msgspec.Struct, frozen=True):
    name: str
    pending: int | None  # messages not yet delivered: the backlog
    ack_pending: int | None  # delivered, not yet acknowledged
    redelivered: int | None  # delivered more than once, still unacknowledged
    last_active: datetime | None  # when it was last given a message
    found: bool = True  # False: the durable does not exist (`parley provision` has not run)


class Letter(msgspec.Struct, frozen=True):
    seq: int
    died_at: datetime | None
    subject: str
    event_id: str
    consumer: str
    deliveries: str
    reason: str


class Operations(Protocol):
    async def consumers(self) -> list[ConsumerState]: ...

    async def dead_letters(self, limit: int) -> list[DeadLetter]: ...

    async def act(self, action: Literal["replay", "delete"], seqs: Iterable[int] | None) -> list[DeadLetter]: ...


class ActionChoice(msgspec.Struct, forbid_unknown_fields=True):
    """One or more dead letters by sequence, or `all` of them (at most LIST_LIMIT per request)."""

    seqs: list[int] = msgspec.field(default_factory=list)
    all: bool = False


class NothingChosen(ValueError):
    pass


def letter(d: DeadLetter) -> Letter:
    return Letter(d.seq, d.died_at, d.subject, d.event_id, d.consumer, d.deliveries, d.reason)


async def dead_letters(ops: Operations) -> list[Letter]:
    return [letter(d) for d in await ops.dead_letters(LIST_LIMIT)]


async def act(ops: Operations, action: Literal["replay", "delete"], choice: ActionChoice) -> list[Letter]:
    """Replay or delete the chosen dead letters; those already gone (another person, another tab) are skipped."""
    if not choice.all and not choice.seqs:
        raise NothingChosen("name the dead letters (seqs) or all of them (all: true)")
    return [letter(d) for d in await ops.act(action, None if choice.all else choice.seqs)]


class NatsOperations:
    def __init__(self, js: JetStreamContext, durables: Iterable[str] | None = None) -> None:
        self.js = js
        self.durables = list(durables if durables is not None else service_consumers())

    async def consumers(self) -> list[ConsumerState]:
        return list(await asyncio.gather(*(self._consumer(name) for name in self.durables)))

    async def _consumer(self, name: str) -> ConsumerState:
        try:
            info = await self.js.consumer_info(VOICE_STREAM_NAME, name, timeout=2)
        except NotFoundError:
            return ConsumerState(name, None, None, None, None, found=False)
        last = info.delivered.last_active if info.delivered else None
        return ConsumerState(name, info.num_pending, info.num_ack_pending, info.num_redelivered, last)

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        return await redrive.dead_letters(self.js, limit=limit)

    async def act(self, action: Literal["replay", "delete"], seqs: Iterable[int] | None) -> list[DeadLetter]:
        pick = redrive.Pick(every=seqs is None, limit=LIST_LIMIT, skip_gone=True)  # another tab may have been first
        if action == "delete":
            return await redrive.discard(self.js, seqs or (), pick)
        return await redrive.replay(self.js, seqs or (), pick)


OPS_ERRORS = (nats.errors.Error, OSError, TimeoutError)
