"""A service's life: what it opens, the tasks it runs, the chores it repeats, and the order in which it stops.

Every HTTP service builds its runtime inside `service_lifespan(name, start)`: `start(life)` opens what the
service needs (engine, outbox, gateways), registering each one's closer, and starts its tasks. NATS is
joined in the background (`life.with_nats`): the API serves from Postgres while NATS is down.

Shutdown, in this order:
1. `stop` is set: consume loops finish the batch in hand, chores end their wait;
2. tasks still waiting for NATS are cancelled at once (they hold nothing);
3. the other tasks get `grace_seconds` to finish, then are cancelled; a task that failed is logged;
4. closers run in the reverse order of their registration (NATS drained before the engine is disposed),
   each bounded by `close_timeout` and its failure logged, so one stuck dependency cannot hold the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from litestar import Litestar
from nats.aio.client import Client

from parley_runtime.messaging.connection import NatsSettings, connect
from parley_runtime.periodic import every

logger = logging.getLogger(__name__)

R = TypeVar("R")
Closer = Callable[[], Awaitable[object]]


class Lifecycle:
    """The tasks and closers of one running service."""

    def __init__(self, name: str, *, grace_seconds: float = 20.0, close_timeout: float = 5.0) -> None:
        self.name = name
        self.stop = asyncio.Event()
        self.grace_seconds = grace_seconds
        self.close_timeout = close_timeout
        self._tasks: list[asyncio.Task[Any]] = []
        self._connecting: set[asyncio.Task[Any]] = set()
        self._closers: list[tuple[str, Closer]] = []

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `work` until it returns; it should return soon after `stop` is set."""
        task = asyncio.create_task(work, name=f"{self.name}-{name}")
        self._tasks.append(task)
        return task

    def repeat(
        self, seconds: float, chore: Callable[[], Awaitable[object]], *, what: str, wakeup: asyncio.Event | None = None
    ) -> None:
        """Run `chore` now and every `seconds` (at once when `wakeup` is set) until the service stops."""
        self.spawn(every(seconds, self.stop, chore, what=what, wakeup=wakeup), name=what.replace(" ", "-"))

    def on_close(self, what: str, closer: Closer) -> None:
        """Run `closer` at shutdown, before everything registered earlier."""
        self._closers.append((what, closer))

    def with_nats(
        self, settings: NatsSettings, start: Callable[[Client], Awaitable[object]], *, client_name: str
    ) -> None:
        """Connect to NATS in the background (until a server answers), then run `start(nc)` in that task.

        The connection is drained at shutdown. Until it is made, shutdown cancels the task at once."""

        async def run() -> None:
            nc = await connect(settings, name=client_name, retry_initial=True)
            self._connecting.discard(task)
            self.on_close(f"nats {client_name}", lambda: nc.drain())
            await start(nc)

        task = self.spawn(run(), name=client_name)
        self._connecting.add(task)

    async def close(self) -> None:
        self.stop.set()
        for task in self._connecting:
            task.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=self.grace_seconds)
            for task in pending:
                logger.warning("task did not stop in time; cancelled", extra={"task": task.get_name()})
                task.cancel()
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    logger.error("task failed", extra={"task": task.get_name()}, exc_info=task.exception())
        for what, closer in reversed(self._closers):
            try:
                await asyncio.wait_for(closer(), timeout=self.close_timeout)
            except Exception as exc:
                logger.warning("closing failed", extra={"what": what, "error": type(exc).__name__})


def service_lifespan(
    name: str, start: Callable[[Lifecycle], Awaitable[R]], *, grace_seconds: float = 20.0
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """A Litestar lifespan: `app.state.runtime` is what `start` returns; everything stops in order after."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        life = Lifecycle(name, grace_seconds=grace_seconds)
        try:
            app.state.runtime = await start(life)
            yield
        finally:
            await life.close()

    return lifespan
