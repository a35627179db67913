"""Chores a process repeats until it stops: retention passes, the agent's housekeeping, consume-loop pauses.

A chore that fails is logged and tried again at its next round: it must never end the task that runs it,
and a stop request cuts any wait short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def every(seconds: float, stop: asyncio.Event, chore: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run `chore` now and then every `seconds` until `stop` is set."""
    while not stop.is_set():
        try:
            await chore()
        except Exception:
            logger.exception("%s failed; trying again in %s s", what, seconds)
        await sleep_unless(stop, seconds)
