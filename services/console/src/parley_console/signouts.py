"""Sign-outs shared by every console replica, in the console's own KV bucket (`console-signouts`).

Each replica watches the bucket and keeps the ids in memory, so checking a request costs no round trip. A
sign-out is refused by this replica at once and written to the bucket for the others; while NATS is out of
reach it is kept here and written when NATS is back.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.js.kv import KeyValue

from parley_contracts.streams import CONSOLE_SIGNOUT_BUCKET

logger = logging.getLogger(__name__)


class KvSignouts:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self._unwritten: set[str] = set()
        self._kv: KeyValue | None = None

    def __contains__(self, session_id: object) -> bool:
        return session_id in self.ids

    async def add(self, session_id: str) -> None:
        self.ids.add(session_id)
        self._unwritten.add(session_id)
        await self._write()

    async def follow(self, nc: Client, stop: asyncio.Event) -> None:
        """Watch the bucket until `stop`; a watch that fails is started again."""
        while not stop.is_set():
            try:
                await self._watch(nc, stop)
            except Exception:
                logger.warning("watching sign-outs failed; watching again", exc_info=True)
                await asyncio.sleep(1.0)  # a pause between attempts, not a wait for a condition

    async def _watch(self, nc: Client, stop: asyncio.Event) -> None:
        kv = await nc.jetstream().key_value(CONSOLE_SIGNOUT_BUCKET)
        watcher = await kv.watchall(ignore_deletes=True)
        self._kv = kv
        await self._write()
        try:
            while not stop.is_set():
                try:
                    entry = await watcher.updates(timeout=5.0)  # type: ignore[no-untyped-call]
                except TimeoutError:
                    continue
                if entry is not None and entry.key:
                    self.ids.add(entry.key)
        finally:
            self._kv = None
            await watcher.stop()  # type: ignore[no-untyped-call]

    async def _write(self) -> None:
        if self._kv is None:
            return
        for session_id in list(self._unwritten):
            try:
                await self._kv.put(session_id, b"signed out")
            except Exception:  # NATS went away meanwhile: written by the next `follow`
                logger.warning("a sign-out is kept here until NATS is back", exc_info=True)
                return
            self._unwritten.discard(session_id)
