"""Chores a process repeats until it stops: retention passes, the agent's housekeeping, consume-loop pauses.

A chore that fails is logged and tried again at its next round: it must never end the task that runs it,
and a stop request cuts any wait short; so does a `wakeup`, for a chore that has new work to do now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def sleep_unless(stop: asyncio.Event, seconds: float, wakeup: asyncio.Event | None = None) -> None:
    """Wait `seconds`, or less if `stop` (or `wakeup`) is set meanwhile."""
    if wakeup is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        return
    waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def every(
    seconds: float,
    stop: asyncio.Event,
    chore: Callable[[], Awaitable[object]],
    *,
    what: str,
    wakeup: asyncio.Event | None = None,
) -> None:
    """Run `chore` now and then every `seconds` until `stop` is set; at once whenever `wakeup` is set."""
    while not stop.is_set():
        if wakeup is not None:
            wakeup.clear()  # before the chore: a wakeup set while it runs brings the next round at once
        try:
            await chore()
        except Exception:
            logger.exception("%s failed; trying again in %s s", what, seconds)
        await sleep_unless(stop, seconds, wakeup)
