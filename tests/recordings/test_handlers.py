"""The recordings handler with real Postgres, real NATS object store and real blob storage (both kinds)."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from parley_recordings.handlers import store_session
from parley_recordings.repo import RecordingRepo
from parley_recordings.retention import purge_expired
from parley_recordings.settings import Settings
from parley_runtime.handling import PoisonError, TransientError

from .conftest import handler_deps, session_ended


class FlakyRepo(RecordingRepo):
    """Fails the first insert, as if the process died between the blob write and its row."""

    failed = False

    async def add(self, rec):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise ConnectionError("simulated crash before the row was written")
        return await super().add(rec)


async def test_a_crash_between_blob_write_and_row_is_repaired_on_redelivery(settings: Settings, nats_url: str) -> None:
    nc, js, engine, deps, published = await handler_deps(settings, nats_url, FlakyRepo)
    audio = b"OggS" + os.urandom(300_000)
    event = session_ended(audio)
    assert event.recording is not None
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(audio))
    with pytest.raises(ConnectionError):
        await store_session(event, deps)
    stored = await store_session(event, deps)  # the redelivery
    assert sorted((r.kind, r.format) for r in stored) == [
        ("audio", "ogg"),
        ("transcript", "json"),
        ("transcript", "vtt"),
    ]
    again = await store_session(event, deps)  # and once more: nothing new
    assert sorted(r.id for r in again) == sorted(r.id for r in stored)
    assert len(await deps.repo.for_session(event.session_id)) == 3
    ogg = next(r for r in stored if r.kind == "audio")
    data = b"".join([chunk async for chunk in await deps.blobs.open_range(ogg.key, 0, ogg.bytes)])
    assert hashlib.sha256(data).hexdigest() == event.recording.sha256
    assert len({e.event_id for e in published}) == 3  # re-announced with the same ids: de-duplicated downstream
    await nc.close()
    await engine.dispose()


async def test_a_five_megabyte_recording_moves_with_its_checksum_verified(settings: Settings, nats_url: str) -> None:
    nc, js, engine, deps, _ = await handler_deps(settings, nats_url)
    audio = os.urandom(5 * 1024 * 1024 + 123)
    event = session_ended(audio)
    assert event.recording is not None
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(audio))
    stored = {r.kind: r for r in await store_session(event, deps)}
    assert stored["audio"].bytes == len(audio)
    assert await deps.blobs.size(stored["audio"].key) == len(audio)
    await nc.close()
    await engine.dispose()


async def test_audio_not_yet_in_the_object_store_is_transient_and_a_corrupt_one_is_poison(
    settings: Settings, nats_url: str
) -> None:
    nc, js, engine, deps, _ = await handler_deps(settings, nats_url)
    audio = os.urandom(10_000)
    event = session_ended(audio)
    with pytest.raises(TransientError):
        await store_session(event, deps)  # the agent has not uploaded it yet
    assert event.recording is not None
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(audio[:-1] + b"x"))
    with pytest.raises(PoisonError, match="checksum mismatch"):
        await store_session(event, deps)
    await nc.close()
    await engine.dispose()


async def test_retention_deletes_expired_blobs_and_rows_together(
    settings: Settings, nats_url: str, tmp_path: Path
) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    old, new = session_ended(None), session_ended(None)
    old_rows = await store_session(old, deps)
    await store_session(new, deps)
    purged = await purge_expired(deps.repo, deps.blobs, days=30, now=datetime.now(UTC) + timedelta(days=1))
    assert purged == 0
    purged = await purge_expired(deps.repo, deps.blobs, days=30, now=datetime.now(UTC) + timedelta(days=31))
    assert purged == 4
    assert await deps.repo.for_session(old.session_id) == []
    for row in old_rows:
        assert await deps.blobs.size(row.key) is None
    await nc.close()
    await engine.dispose()
