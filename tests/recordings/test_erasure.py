"""`conversation_erased` in recordings, on local files, S3 and Azure: every object goes, the id is retired."""

from __future__ import annotations

import io
import os
from collections.abc import Awaitable
from datetime import UTC, datetime
from uuid import uuid4

import nats
from litestar.testing import AsyncTestClient
from nats.js import JetStreamContext

import parley_contracts as c
from parley_recordings.app import create_app
from parley_recordings.handlers import erase_conversation, store_session
from parley_recordings.repo import Recording, RecordingRepo
from parley_recordings.settings import Settings
from parley_runtime.messaging.provision import provision
from tests.support import eventually

from .conftest import AUTH, handler_deps, session_ended


def erased(conversation: str) -> c.ConversationErased:
    return c.ConversationErased(
        event_id=uuid4(), occurred_at=datetime.now(UTC), conversation_id=conversation, producer="history"
    )


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _audio_names(js: JetStreamContext) -> list[str]:
    store = await js.object_store("voice-audio")
    try:
        return sorted(i.name for i in await store.list(ignore_deletes=True))
    except nats.js.errors.NotFoundError:
        return []


async def _with_audio(js: JetStreamContext, conversation: str) -> c.SessionEnded:
    audio = b"OggS" + os.urandom(20_000)
    event = session_ended(audio, conversation=conversation)
    assert event.recording is not None
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(audio))
    return event


async def test_erasure_deletes_every_object_of_the_conversation_and_nothing_else(
    settings: Settings, nats_url: str
) -> None:
    nc, js, engine, deps, _ = await handler_deps(settings, nats_url)
    gone = [await store_session(await _with_audio(js, "gone"), deps) for _ in range(2)]
    kept = await store_session(await _with_audio(js, "kept"), deps)
    pending = await _with_audio(js, "gone")  # uploaded by the agent, its session_ended not handled yet
    await _with_audio(js, "kept")
    await deps.blobs.put("transcripts/gone/s-crashed/transcript.json", b"{}", "application/json")  # no row

    deleted = await erase_conversation(erased("gone"), deps)
    assert deleted == 6 + 1 + 1  # two sessions' three objects, the unrecorded blob, the pending audio
    for rec in (r for session in gone for r in session):
        assert await deps.blobs.size(rec.key) is None
    assert await deps.repo.for_conversation("gone") == []
    assert await deps.blobs.size("transcripts/gone/s-crashed/transcript.json") is None
    assert pending.recording is not None and pending.recording.key not in await _audio_names(js)
    assert [n.split("/")[0] for n in await _audio_names(js)] == ["kept"]
    assert len(await deps.repo.for_conversation("kept")) == 3
    for rec in kept:
        assert await deps.blobs.size(rec.key) == rec.bytes
    assert await erase_conversation(erased("gone"), deps) == 0  # redelivered: nothing left, no error

    # The pending session's end arrives after the erasure: nothing is stored.
    late = await _with_audio(js, "gone")
    assert await store_session(late, deps) == []
    assert await deps.repo.for_conversation("gone") == []
    assert late.recording is not None and late.recording.key not in await _audio_names(js)
    await nc.close()
    await engine.dispose()


class ErasedMidway(RecordingRepo):
    """The erasure commits (on another replica) right after this replica recorded its first object."""

    async def put(self, rec: Recording) -> tuple[Recording, bool]:
        stored = await super().put(rec)
        await self.retire(rec.conversation_id, datetime.now(UTC))
        return stored


async def test_a_session_stored_while_the_conversation_is_erased_is_removed_again(
    settings: Settings, nats_url: str
) -> None:
    nc, js, engine, deps, _ = await handler_deps(settings, nats_url, ErasedMidway)
    event = await _with_audio(js, "gone")
    assert await store_session(event, deps) == []
    assert await deps.repo.for_conversation("gone") == []
    assert await deps.blobs.delete_prefix("transcripts/gone/") == 0
    assert await deps.blobs.delete_prefix("audio/gone/") == 0
    await nc.close()
    await engine.dispose()


async def test_the_service_consumes_the_erasure_from_the_stream(settings: Settings, nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    event = await _with_audio(js, "gone")
    await js.publish(c.subject_for(event), c.encode(event))
    async with AsyncTestClient(app=create_app(settings)) as client:
        listing = "/v1/recordings?conversation_id=gone"

        async def listed() -> int:
            return len((await client.get(listing, headers=AUTH)).json()["items"])

        await eventually(lambda: _equals(listed(), 3), timeout=30, what="the three recordings")
        await js.publish(c.subject_for(erased("gone")), c.encode(erased("gone")))
        await eventually(lambda: _equals(listed(), 0), timeout=30, what="the recordings erased")
    await nc.close()
