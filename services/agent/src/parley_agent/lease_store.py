"""The room leases' store: a NATS KV bucket (`agent-leases`, provisioned by `parley provision`)."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.kv import KeyValue

from parley_agent.lease import LeaseStoreDown, LeaseTaken
from parley_contracts.streams import AGENT_LEASE_BUCKET

_DOWN = (nats.errors.Error, nats.js.errors.Error, OSError, TimeoutError)


class NatsLeaseStore:
    def __init__(self, nc: Client, *, timeout: float = 1.0, bucket: str = AGENT_LEASE_BUCKET) -> None:
        self.nc = nc
        self.timeout = timeout
        self.bucket = bucket
        self._kv: KeyValue | None = None

    async def _store(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.nc.jetstream(timeout=self.timeout).key_value(self.bucket)
        return self._kv

    async def read(self, key: str) -> tuple[bytes, int] | None:
        try:
            async with asyncio.timeout(self.timeout):
                entry = await (await self._store()).get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return None
        except _DOWN as exc:
            raise LeaseStoreDown(type(exc).__name__) from exc
        return entry.value or b"", int(entry.revision or 0)

    async def create(self, key: str, value: bytes) -> int:
        try:
            async with asyncio.timeout(self.timeout):
                return await (await self._store()).create(key, value)
        except nats.js.errors.KeyWrongLastSequenceError as exc:
            raise LeaseTaken(key) from exc
        except _DOWN as exc:
            raise LeaseStoreDown(type(exc).__name__) from exc

    async def update(self, key: str, value: bytes, revision: int) -> int:
        try:
            async with asyncio.timeout(self.timeout):
                return await (await self._store()).update(key, value, last=revision)
        except nats.js.errors.KeyWrongLastSequenceError as exc:
            raise LeaseTaken(key) from exc
        except _DOWN as exc:
            raise LeaseStoreDown(type(exc).__name__) from exc

    async def delete(self, key: str, revision: int) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await (await self._store()).delete(key, last=revision)
        except nats.js.errors.KeyWrongLastSequenceError as exc:
            raise LeaseTaken(key) from exc
        except _DOWN as exc:
            raise LeaseStoreDown(type(exc).__name__) from exc
