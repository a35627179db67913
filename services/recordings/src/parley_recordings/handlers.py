"""What the recordings service does with a `session_ended` or a `conversation_erased`, free of NATS and HTTP.

For each object (transcript JSON, transcript WebVTT, audio): write the blob, confirm it, record the
row, announce `recording_stored`; then remove the audio's object-store copy. A transcript holds the whole
call: a very long call's summary is completed from history first (`whole_session`). Every step is
idempotent per (session, kind, format): a redelivery skips what is recorded, rewrites what was written but not
recorded (same key, same bytes), and announces again with the same event id (de-duplicated). One worker
stores a session at a time: a second one, on another replica, backs off (`SessionBusy`) and is redelivered.

The end history publishes for a session whose agent was lost (reason `agent_lost`, no audio) stores a
provisional transcript, built from the turns history holds; should the agent's own end still arrive
(replayed from a spill file), its transcript replaces that one, as its end replaces history's everywhere.

An erased conversation's id is retired: its objects, rows and object-store audio are deleted, and a
`session_ended` that comes later stores nothing (its audio is deleted from the object store).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import parley_contracts as c
from parley_contracts.streams import AUDIO_BUCKET
from parley_recordings.blobs import conversation_folder, object_key
from parley_recordings.documents import transcript_json, transcript_vtt
from parley_recordings.objectstore import ObjectMissing, Sha256Counter
from parley_recordings.repo import Recording, recording_id
from parley_recordings.whole_session import EarlierTurns, whole_session
from parley_runtime.messaging.handling import PoisonError, TransientError

PRODUCER = "recordings"
TRANSCRIPTS, AUDIO = "transcripts", "audio"  # blob keys: <folder>/<conversation>/<session>/<file>
FOLDERS = (TRANSCRIPTS, AUDIO)
Publish = Callable[[c.Event], Awaitable[None]]


class Blobs(Protocol):
    """Blob storage (`blobs.BlobStore` in production: local files, S3, Azure, GCS)."""

    def uri(self, key: str) -> str: ...

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None: ...

    async def size(self, key: str) -> int | None: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int: ...


class Recordings(Protocol):
    """The recordings table (`repo.RecordingRepo` in production)."""

    def session_claim(self, session_id: str) -> AbstractAsyncContextManager[bool]: ...

    async def for_session(self, session_id: str) -> list[Recording]: ...

    async def for_conversation(self, conversation_id: str) -> list[Recording]: ...

    async def put(self, rec: Recording) -> tuple[Recording, bool]: ...

    async def delete(self, rid: uuid.UUID) -> None: ...

    async def retire(self, conversation_id: str, at: datetime) -> None: ...

    async def is_erased(self, conversation_id: str) -> bool: ...


class AudioSource(Protocol):
    """Where the agent left the audio (the NATS object store in production)."""

    def stream(self, bucket: str, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, bucket: str, key: str) -> None: ...

    async def delete_under(self, bucket: str, prefix: str) -> int: ...


@dataclass
class Deps:
    blobs: Blobs
    repo: Recordings
    audio: AudioSource
    publish: Publish
    # History's turns, for a summary cut short (`whole_session`); without it such a transcript stays cut short.
    earlier_turns: EarlierTurns | None = None


async def _record(
    event: c.SessionEnded,
    deps: Deps,
    *,
    kind: str,
    fmt: str,
    key: str,
    size: int,
    sha256: str,
    content_type: str,
    provisional: bool = False,
) -> tuple[Recording, bool]:
    rec = Recording(
        id=recording_id(event.session_id, kind, fmt),
        session_id=event.session_id,
        conversation_id=event.conversation_id,
        kind=kind,
        format=fmt,
        uri=deps.blobs.uri(key),
        key=key,
        bytes=size,
        sha256=sha256,
        content_type=content_type,
        created_at=datetime.now(UTC),
        provisional=provisional,
    )
    try:
        return await deps.repo.put(rec)
    except PoisonError:
        # The event is dead-lettered and no row will name the object just written: delete it, or it would stay
        # where neither retention nor erasure by row finds it (unless a row of another end of the session names
        # it). A mended event replayed later writes it again.
        if all(r.key != key for r in await deps.repo.for_session(event.session_id)):
            await deps.blobs.delete(key)
        raise


def _document_key(event: c.SessionEnded, fmt: str, *, provisional: bool) -> str:
    name = f"transcript.provisional.{fmt}" if provisional else f"transcript.{fmt}"
    return object_key(TRANSCRIPTS, event.conversation_id, event.session_id, name)


async def _store_document(
    event: c.SessionEnded, deps: Deps, fmt: str, body: bytes, content_type: str, replacing: Recording | None
) -> Recording:
    """Write one transcript document, then its row. History's end for a lost agent writes a provisional one
    under a key of its own; the agent's own end, arriving later, replaces it (`replacing`)."""
    provisional = event.reason == c.AGENT_LOST
    key = _document_key(event, fmt, provisional=provisional)
    await deps.blobs.put(key, body, content_type)
    if replacing is not None:
        # Before the row moves on: a crash in between leaves the row naming a deleted object until this end's
        # redelivery moves it, never an object no row names (retention and readers would never find it).
        await deps.blobs.delete(replacing.key)
    rec, replaced = await _record(
        event,
        deps,
        kind="transcript",
        fmt=fmt,
        key=key,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_type=content_type,
        provisional=provisional,
    )
    # Two ends of one session stored at once: only if the session's lock was lost meanwhile (`session_claim`).
    if rec.key != key:  # the agent's own transcript got there first: ours is not needed
        await deps.blobs.delete(key)
    elif replaced and replacing is None:  # a provisional one was stored meanwhile
        await deps.blobs.delete(_document_key(event, fmt, provisional=True))
    return rec


async def _store_audio(event: c.SessionEnded, ref: c.RecordingRef, deps: Deps) -> Recording:
    key = object_key(AUDIO, event.conversation_id, event.session_id, "audio.ogg")
    counter = Sha256Counter()
    try:
        await deps.blobs.put(key, counter.wrap(deps.audio.stream(ref.bucket, ref.key)), ref.content_type)
    except ObjectMissing as exc:
        # The agent uploads late when NATS was down during the call: try again later.
        raise TransientError(f"audio {ref.key} not in the object store yet") from exc
    digest = counter.hash.hexdigest()
    if counter.bytes != ref.bytes or digest != ref.sha256:
        await deps.blobs.delete(key)
        raise PoisonError(f"audio checksum mismatch: got {counter.bytes} bytes sha256 {digest[:12]}")
    if await deps.blobs.size(key) != ref.bytes:
        raise TransientError("blob write not confirmed")
    rec, _ = await _record(
        event, deps, kind="audio", fmt="ogg", key=key, size=ref.bytes, sha256=digest, content_type=ref.content_type
    )
    return rec


class SessionBusy(Exception):
    """Another worker is storing the same session: this delivery is retried later, and then finds it stored."""


async def store_session(event: c.SessionEnded, deps: Deps, *, settle: bool = False) -> list[Recording]:
    """Store everything a session left; safe to run again for the same event. `settle`: stop waiting for
    history to complete a long call's transcript (`whole_session`).

    Raises `SessionBusy` while another worker stores the same session. Two at once could each write an object
    under the same key with different bytes (a transcript completed from history differs between an unsettled
    and a settled delivery) and leave a row whose checksum describes the other's object."""
    async with deps.repo.session_claim(event.session_id) as claimed:
        if not claimed:
            raise SessionBusy(f"session {event.session_id} is being stored by another worker")
        return await _store_session(event, deps, settle=settle)


async def _store_session(event: c.SessionEnded, deps: Deps, *, settle: bool) -> list[Recording]:
    if await deps.repo.is_erased(event.conversation_id):
        await _forget_session(event, deps)
        return []
    have = {(r.kind, r.format): r for r in await deps.repo.for_session(event.session_id)}
    stored = dict(have)
    olds = {fmt: have.get(("transcript", fmt)) for fmt in ("json", "vtt")}
    todo = [fmt for fmt, old in olds.items() if old is None or (old.provisional and event.reason != c.AGENT_LOST)]
    if todo:
        whole = event if deps.earlier_turns is None else await whole_session(event, deps.earlier_turns, settle=settle)
        documents = {"json": (transcript_json(whole), "application/json"), "vtt": (transcript_vtt(whole), "text/vtt")}
        for fmt in todo:
            stored["transcript", fmt] = await _store_document(event, deps, fmt, *documents[fmt], olds[fmt])
    ref = event.recording
    if ref is not None and ("audio", "ogg") not in have:
        stored["audio", "ogg"] = await _store_audio(event, ref, deps)
    for rec in stored.values():
        await deps.publish(
            c.RecordingStored(
                # A provisional transcript is announced under an id of its own, so the one replacing it (same
                # recording id) is news to every subscriber that de-duplicates on event ids.
                event_id=uuid.uuid5(rec.id, c.AGENT_LOST) if rec.provisional else rec.id,
                occurred_at=rec.created_at,
                conversation_id=rec.conversation_id,
                session_id=rec.session_id,
                producer=PRODUCER,
                recording_id=rec.id,
                kind="audio" if rec.kind == "audio" else "transcript",
                uri=rec.uri,
                bytes=rec.bytes,
                sha256=rec.sha256,
                content_type=rec.content_type,
                provisional=rec.provisional,
            )
        )
    if ref is not None:
        await deps.audio.delete(ref.bucket, ref.key)  # only now: the blob is confirmed and recorded
    if await deps.repo.is_erased(event.conversation_id):
        # Erased while this ran (another replica handled the erasure): its tombstone was committed before it
        # listed the rows, so it may have missed the ones written here. Checked after writing, never missed.
        await _forget_session(event, deps)
        return []
    return list(stored.values())


async def delete_recordings(records: list[Recording], blobs: Blobs, repo: Recordings) -> int:
    """Blob first, then its row: a blob deleted whose row then stays is deleted again (a no-op) next time."""
    for rec in records:
        await blobs.delete(rec.key)
        await repo.delete(rec.id)
    return len(records)


async def _forget_session(event: c.SessionEnded, deps: Deps) -> None:
    await delete_recordings(await deps.repo.for_session(event.session_id), deps.blobs, deps.repo)
    for kind in FOLDERS:
        await deps.blobs.delete_prefix(f"{conversation_folder(kind, event.conversation_id)}{event.session_id}/")
    if event.recording is not None:
        await deps.audio.delete(event.recording.bucket, event.recording.key)


async def erase_conversation(event: c.ConversationErased, deps: Deps) -> int:
    """Delete every object and row of the conversation and retire its id; returns the objects deleted.

    The tombstone comes first, so a `session_ended` handled at the same time either sees it or wrote its
    rows before this lists them. Blob folders are swept too (an object whose row was never written),
    and so is the object store (audio the agent uploaded for a session not handled yet). Safe to repeat.
    """
    await deps.repo.retire(event.conversation_id, event.occurred_at)
    deleted = await delete_recordings(await deps.repo.for_conversation(event.conversation_id), deps.blobs, deps.repo)
    for kind in FOLDERS:
        deleted += await deps.blobs.delete_prefix(conversation_folder(kind, event.conversation_id))
    deleted += await deps.audio.delete_under(AUDIO_BUCKET, f"{event.conversation_id}/")
    return deleted
