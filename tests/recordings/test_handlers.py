"""The recordings handler with real Postgres, real NATS object store and real blob storage (both kinds)."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest

import parley_contracts as c
from parley_recordings.blobs import BlobStore
from parley_recordings.documents import transcript_json, transcript_vtt
from parley_recordings.handlers import Deps, store_session
from parley_recordings.repo import Recording, RecordingRepo
from parley_recordings.retention import purge_expired
from parley_recordings.settings import Settings
from parley_runtime.messaging.handling import PoisonError, TransientError

from .conftest import handler_deps, session_ended


class FlakyRepo(RecordingRepo):
    """Fails the first insert, as if the process died between the blob write and its row."""

    failed = False

    async def put(self, rec):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise ConnectionError("simulated crash before the row was written")
        return await super().put(rec)


async def _content(deps: Deps, rec: Recording) -> bytes:
    assert isinstance(deps.blobs, BlobStore)
    return b"".join([chunk async for chunk in await deps.blobs.open_range(rec.key, 0, rec.bytes)])


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
    assert hashlib.sha256(await _content(deps, ogg)).hexdigest() == event.recording.sha256
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
    corrupt = audio[:-1] + bytes([audio[-1] ^ 0xFF])  # the last byte differs, whatever it was
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(corrupt))
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


async def test_the_agents_own_end_replaces_a_provisional_transcript_and_never_the_reverse(
    settings: Settings, nats_url: str
) -> None:
    nc, js, engine, deps, published = await handler_deps(settings, nats_url)
    audio = os.urandom(20_000)
    own = session_ended(audio)
    assert own.recording is not None
    await (await js.object_store("voice-audio")).put(own.recording.key, io.BytesIO(audio))
    # History's end for the lost agent: the turns it held (one of two), no audio.
    lost = msgspec.structs.replace(
        own, event_id=uuid4(), producer="history", reason=c.AGENT_LOST, recording=None, messages=own.messages[:1]
    )
    first = {r.format: r for r in await store_session(lost, deps)}
    assert sorted(first) == ["json", "vtt"] and all(r.provisional for r in first.values())
    assert await _content(deps, first["json"]) == transcript_json(lost)
    assert (await store_session(lost, deps)) == list(first.values())  # redelivered: nothing changes
    announced = {e.event_id for e in published}
    assert len(announced) == 2 and not announced & {r.id for r in first.values()}
    assert all(isinstance(e, c.RecordingStored) and e.provisional for e in published)

    final = {r.format: r for r in await store_session(own, deps)}  # the agent's own, replayed late
    assert sorted(final) == ["json", "ogg", "vtt"] and not any(r.provisional for r in final.values())
    assert {final[f].id for f in ("json", "vtt")} == {first[f].id for f in ("json", "vtt")}  # same recordings
    assert await _content(deps, final["json"]) == transcript_json(own)
    assert await _content(deps, final["vtt"]) == transcript_vtt(own)
    assert [await deps.blobs.size(r.key) for r in first.values()] == [None, None]  # provisional objects gone
    # Announced again under new ids, so subscribers that de-duplicate on event ids see the replacement.
    assert {e.event_id for e in published} - announced == {r.id for r in final.values()}
    assert not any(isinstance(e, c.RecordingStored) and e.provisional for e in published[4:])  # after the redelivery

    assert {r.format: r for r in await store_session(lost, deps)} == final  # history's end, redelivered
    assert await _content(deps, final["json"]) == transcript_json(own)
    assert len(await deps.repo.for_session(own.session_id)) == 3
    await nc.close()
    await engine.dispose()


class RaceRepo(RecordingRepo):
    """Another replica stores the other end's transcript between this one's object write and its row."""

    other: Recording | None = None

    async def put(self, rec: Recording) -> tuple[Recording, bool]:
        if self.other is not None:
            other, self.other = self.other, None
            await super().put(other)
        return await super().put(rec)


async def test_concurrent_ends_leave_the_agents_transcript_and_no_stray_object(
    settings: Settings, nats_url: str
) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url, RaceRepo)
    own = session_ended(None)
    lost = msgspec.structs.replace(own, event_id=uuid4(), producer="history", reason=c.AGENT_LOST, messages=[])
    plain = Deps(deps.blobs, RecordingRepo(engine), deps.audio, deps.publish)
    for order in ((lost, own), (own, lost)):
        session = f"sess-{uuid4().hex[:8]}"
        first, second = (msgspec.structs.replace(e, session_id=session) for e in order)
        agents = msgspec.structs.replace(own, session_id=session)
        # The other replica stores `first`; its JSON transcript's row lands only after this replica, handling
        # `second`, has found no row and written its object.
        stored = {r.format: r for r in await store_session(first, plain)}
        await plain.repo.delete(stored["json"].id)
        assert isinstance(deps.repo, RaceRepo)
        deps.repo.other = stored["json"]
        await store_session(second, deps)
        rows = {r.format: r for r in await plain.repo.for_session(session)}
        assert not rows["json"].provisional and await _content(deps, rows["json"]) == transcript_json(agents)
        names = [f"transcript{p}.{fmt}" for p in ("", ".provisional") for fmt in ("json", "vtt")]
        objects = [k for k in (f"transcripts/conv-r/{session}/{n}" for n in names) if await deps.blobs.size(k)]
        assert sorted(objects) == sorted(r.key for r in rows.values()), first.reason  # none without a row
    await nc.close()
    await engine.dispose()
