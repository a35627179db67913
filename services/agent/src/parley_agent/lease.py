"""One agent per room at a time: a lease per room in a NATS KV bucket, so two agents never talk over each other.

When an agent is lost mid-call, another is dispatched to the room (rooms' failover, or LiveKit resuming the
job). Should the lost one come back (a network partition heals, a frozen process resumes), two agents would
answer the caller. The lease decides who speaks:

* an agent joining a room takes the lease when nobody holds it, when its holder stopped renewing it
  (`stale_seconds`), or when the agent was sent to replace the holder (its `resumed_from` names the holder's
  session); otherwise another agent has the room, and this one leaves without a word;
* the holder renews it every `renew_seconds`, with the revision it last wrote: a renewal that finds another
  revision means a replacement took the room, and the agent leaves the call at once.

A lease store that does not answer (NATS down) never keeps a call from being answered: the agent goes on, and
says so in its log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec

logger = logging.getLogger(__name__)


class LeaseTaken(Exception):
    """The key's revision is not the one expected: another agent wrote it meanwhile."""


class LeaseStoreDown(Exception):
    """The lease store did not answer."""


class LeaseStore(Protocol):
    async def read(self, key: str) -> tuple[bytes, int] | None:
        """The value and its revision, or None when there is none."""
        ...

    async def create(self, key: str, value: bytes) -> int:
        """Write a new key; raises `LeaseTaken` when it exists."""
        ...

    async def update(self, key: str, value: bytes, revision: int) -> int:
        """Write over `revision`; raises `LeaseTaken` when the key is at another one."""
        ...

    async def delete(self, key: str, revision: int) -> None: ...


class Holder(msgspec.Struct, frozen=True):
    session_id: str
    renewed_at: float  # Unix seconds


def lease_key(room: str) -> str:
    """A KV key for any room name (KV keys take a narrow alphabet; room names need not)."""
    return "room-" + hashlib.sha256(room.encode()).hexdigest()[:40]


@dataclass
class RoomLease:
    store: LeaseStore
    room: str
    session_id: str
    renew_seconds: float = 2.0
    stale_seconds: float = 6.0
    clock: Callable[[], float] = time.time
    revision: int | None = None

    @property
    def key(self) -> str:
        return lease_key(self.room)

    def _value(self) -> bytes:
        return msgspec.json.encode(Holder(self.session_id, self.clock()))

    async def acquire(self, resumed_from: str | None = None) -> bool:
        """Take the room, or learn that another agent has it (False). True when the store does not answer."""
        try:
            for _ in range(3):  # a race with another agent: read again and decide again
                try:
                    return await self._try(resumed_from)
                except LeaseTaken:
                    continue
            return False
        except LeaseStoreDown:
            logger.warning("room lease unavailable: taking the call without it", extra={"room": self.room})
            return True

    async def _try(self, resumed_from: str | None) -> bool:
        found = await self.store.read(self.key)
        if found is None:
            self.revision = await self.store.create(self.key, self._value())
            return True
        value, revision = found
        holder = msgspec.json.decode(value, type=Holder)
        ours = holder.session_id == self.session_id
        replacing = resumed_from is not None and holder.session_id == resumed_from
        stale = self.clock() - holder.renewed_at > self.stale_seconds
        if not (ours or replacing or stale):
            logger.warning(
                "another agent has this room: leaving it", extra={"room": self.room, "holder": holder.session_id}
            )
            return False
        self.revision = await self.store.update(self.key, self._value(), revision)
        return True

    async def renew(self) -> bool:
        """Renew the lease; False once another agent took the room (the caller must leave)."""
        if self.revision is None:
            return await self.acquire()
        try:
            self.revision = await self.store.update(self.key, self._value(), self.revision)
        except LeaseTaken:
            logger.warning("a replacement agent took this room: leaving it", extra={"room": self.room})
            return False
        except LeaseStoreDown:
            logger.warning("room lease not renewed: the store did not answer", extra={"room": self.room})
        return True

    async def release(self) -> None:
        """Let the room go, if it is still ours (a replacement's lease is left alone)."""
        if self.revision is None:
            return
        with contextlib.suppress(LeaseTaken, LeaseStoreDown):  # a replacement's, or the store's to expire
            await self.store.delete(self.key, self.revision)
        self.revision = None
