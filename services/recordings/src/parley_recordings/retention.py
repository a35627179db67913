"""Retention: delete recordings older than the configured number of days, blob first, then its row.

A blob deleted whose row delete then fails is retried next run (deleting a missing blob is a no-op),
so blobs and rows never drift apart for long.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from parley_recordings.blobs import BlobStore
from parley_recordings.handlers import delete_recordings
from parley_recordings.repo import RecordingRepo

logger = logging.getLogger(__name__)


async def purge_expired(repo: RecordingRepo, blobs: BlobStore, *, days: int, now: datetime | None = None) -> int:
    if days <= 0:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    purged = 0
    while batch := await repo.older_than(cutoff):
        purged += await delete_recordings(batch, blobs, repo)
    logger.info("retention pass", extra={"purged": purged, "cutoff": cutoff.isoformat()})
    return purged
