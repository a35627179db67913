"""Recordings' use cases (`store_session`, `erase_conversation`) through in-memory fakes of their ports."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from uuid import uuid4

import msgspec
import pytest

import parley_contracts as c
from parley_contracts.streams import AUDIO_BUCKET
from parley_recordings.handlers import Deps, SessionBusy, erase_conversation, store_session
from parley_runtime.messaging.handling import PoisonError, TransientError
from tests.support.events import T0

from .fakes import MemoryAudio, MemoryBlobs, MemoryRecordings, Published

AUDIO = b"OggS" + bytes(range(256)) * 64


def _deps() -> tuple[Deps, MemoryBlobs, MemoryRecordings, MemoryAudio, Published]:
    blobs, repo, audio, published = MemoryBlobs(), MemoryRecordings(), MemoryAudio(), Published()
    return Deps(blobs=blobs, repo=repo, audio=audio, publish=published), blobs, repo, audio, published


def _ended(session: str = "s1", *, audio: bytes | None = AUDIO) -> c.SessionEnded:
    key = f"conv-1/{session}/audio.ogg"
    ref = None if audio is None else c.RecordingRef(
        bucket=AUDIO_BUCKET, key=key, bytes=len(audio), sha256=hashlib.sha256(audio).hexdigest(),
        content_type="audio/ogg",
    )  # fmt: skip
    return c.SessionEnded(
        event_id=uuid4(), occurred_at=T0, conversation_id="conv-1", session_id=session, producer="agent",
        reason="participant_disconnected", started_at=T0, ended_at=T0 + timedelta(seconds=30),
        duration_seconds=30.0, turn_count=2,
        messages=[c.MessageSummary(seq=1, role="user", text="Hi there", at=T0),
                  c.MessageSummary(seq=2, role="assistant", text="Hello!", at=T0 + timedelta(seconds=2))],
        recording=ref,
    )  # fmt: skip


async def test_a_session_leaves_two_transcripts_and_its_audio_each_announced_and_the_audio_moved() -> None:
    deps, blobs, _, audio, published = _deps()
    event = _ended()
    audio.objects[AUDIO_BUCKET, f"conv-1/{event.session_id}/audio.ogg"] = AUDIO
    stored = await store_session(event, deps)
    kinds = sorted((r.kind, r.format) for r in stored)
    assert kinds == [("audio", "ogg"), ("transcript", "json"), ("transcript", "vtt")]
    (moved,) = [r for r in stored if r.kind == "audio"]
    assert blobs.objects[moved.key] == AUDIO and moved.sha256 == hashlib.sha256(AUDIO).hexdigest()
    assert audio.objects == {}  # removed from the object store only once the blob is confirmed and recorded
    assert b"Hi there" in next(blobs.objects[r.key] for r in stored if r.format == "vtt")
    assert {e.recording_id for e in published.events} == {r.id for r in stored}  # type: ignore[attr-defined]


async def test_a_redelivery_stores_nothing_twice_and_announces_the_same_events() -> None:
    deps, blobs, repo, audio, published = _deps()
    event = _ended()
    audio.objects[AUDIO_BUCKET, f"conv-1/{event.session_id}/audio.ogg"] = AUDIO
    await store_session(event, deps)
    first = [e.event_id for e in published.events]
    await store_session(event, deps)  # the audio is gone from the object store now: not needed again
    assert len(repo.rows) == 3 and len(blobs.objects) == 3
    assert [e.event_id for e in published.events[3:]] == first  # JetStream de-duplicates them


async def test_audio_not_uploaded_yet_is_retried_and_a_checksum_mismatch_is_poison() -> None:
    deps, blobs, _, audio, _ = _deps()
    with pytest.raises(TransientError):
        await store_session(_ended(), deps)
    event = _ended("s2")
    audio.objects[AUDIO_BUCKET, "conv-1/s2/audio.ogg"] = AUDIO[:-1] + b"x"
    with pytest.raises(PoisonError, match="checksum"):
        await store_session(event, deps)
    assert not any(k.startswith("audio/") for k in blobs.objects)  # the bad copy is not kept


async def test_a_session_another_worker_holds_is_left_to_it() -> None:
    deps, _, repo, _, _ = _deps()
    repo.busy.add("s1")
    with pytest.raises(SessionBusy):
        await store_session(_ended(audio=None), deps)
    assert repo.rows == {}


async def test_the_agents_own_end_replaces_the_provisional_transcript_of_a_lost_agent() -> None:
    deps, blobs, repo, _, published = _deps()
    lost = msgspec.structs.replace(_ended(audio=None), reason=c.AGENT_LOST, producer="history")
    await store_session(lost, deps)
    assert all(r.provisional for r in repo.rows.values()) and len(repo.rows) == 2
    await store_session(_ended(audio=None), deps)
    assert not any(r.provisional for r in repo.rows.values()) and len(repo.rows) == 2
    assert not any("provisional" in key for key in blobs.objects)  # the provisional objects are deleted
    assert [e.provisional for e in published.events] == [True, True, False, False]  # type: ignore[attr-defined]


async def test_an_erasure_deletes_everything_and_a_later_end_stores_nothing() -> None:
    deps, blobs, repo, audio, _ = _deps()
    await store_session(_ended(audio=None), deps)
    erased = c.ConversationErased(event_id=uuid4(), occurred_at=T0, conversation_id="conv-1", producer="history")
    assert await erase_conversation(erased, deps) >= 2
    assert repo.rows == {} and blobs.objects == {}
    late = _ended("s9")
    audio.objects[AUDIO_BUCKET, "conv-1/s9/audio.ogg"] = AUDIO
    assert await store_session(late, deps) == []
    assert repo.rows == {} and audio.objects == {}  # its audio is deleted, not moved
