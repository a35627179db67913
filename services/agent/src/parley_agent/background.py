"""Worker-process housekeeping: publish events and upload audio that finished jobs left on disk.

A job that could not reach NATS before its shutdown budget ran out leaves its outbox spill file and its
audio (`audio-pending/`). This task, in the long-lived worker process, replays spill files whose writer
process is gone (or that belong to finished jobs of this process; see `spill_files`) and uploads pending
audio, so nothing a call produced is lost across restarts.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path

from nats.aio.client import Client

from parley_agent import spill_files
from parley_agent.recording import upload_pending
from parley_agent.settings import Settings
from parley_runtime.messaging.connection import connect
from parley_runtime.messaging.outbox import Outbox
from parley_runtime.periodic import every

logger = logging.getLogger(__name__)


async def replay_spills(nc: Client, settings: Settings, active: set[Path] | None = None) -> int:
    """Publish every orphaned spill file; returns how many files were fully published."""
    done = 0
    directory = settings.state_path / "outbox"
    if not directory.exists():
        return 0
    for path in spill_files.orphans(directory, active or set()):
        claimed = spill_files.claim(path)
        if claimed is None:
            continue  # another worker claimed it
        outbox = Outbox(settings.nats, name="agent-replay", spill_path=claimed, nc=nc).start()
        clean = await outbox.drain(60)
        await outbox.close(timeout=1)
        if clean:
            claimed.unlink(missing_ok=True)
            done += 1
        else:
            claimed.rename(path)
    return done


async def flush_once(nc: Client, settings: Settings) -> None:
    """One pass: replay orphaned spill files, upload pending audio."""
    await replay_spills(nc, settings, active=_live_spills())
    pending = settings.state_path / "audio-pending"
    if pending.exists():
        await upload_pending(nc, pending, settings.recording_upload_timeout_seconds)


async def housekeeping(
    settings: Settings, stop: asyncio.Event, connection: asyncio.Future[Client] | None = None, interval: float = 10.0
) -> None:
    """Runs for the worker's life; its connection, once made, is the result of `connection` (for /ready and the
    simulated calls asked for over NATS) until `stop`."""
    nc = await connect(settings.nats, name="agent-housekeeping", retry_initial=True)
    if connection is not None:
        connection.set_result(nc)
    try:
        await every(interval, stop, partial(flush_once, nc, settings), what="housekeeping")
    finally:
        await nc.close()


def _live_spills() -> set[Path]:
    """Spill files still owned by running jobs of this process (thread executor)."""
    from parley_agent.worker import _calls

    return {call.outbox.spill_path for call in _calls.values() if call.outbox.spill_path is not None}
