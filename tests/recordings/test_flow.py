"""session_ended -> transcripts and audio in blob storage, on local files, S3 and Azure; idempotent; ranges."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

import parley_contracts as c
from parley_devstack.seaweedfs import SeaweedServer
from parley_devstack.testing import stream_events
from parley_recordings.app import create_app
from parley_recordings.blobs import object_key, open_blob_store
from parley_recordings.settings import Settings
from parley_runtime.messaging.provision import provision
from tests.support import eventually

from .conftest import API_KEY, AUTH, blob_settings, s3_server, session_ended


async def _setup(nats_url: str, audio: bytes, event: c.SessionEnded) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    assert event.recording is not None
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(audio))
    await js.publish(c.subject_for(event), c.encode(event), headers={"Nats-Msg-Id": str(event.event_id)})
    await nc.close()


async def _recordings(
    client: AsyncTestClient[Litestar], session_id: str, n: int, timeout: float = 30
) -> list[dict[str, Any]]:
    async def listed() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (
            await client.get(f"/v1/recordings?session_id={session_id}", headers=AUTH)
        ).json()["items"]
        return items if len(items) >= n else None

    found: list[dict[str, Any]] = await eventually(listed, timeout=timeout, what=f"{n} recordings of {session_id}")
    return found


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings)) as cl:
        yield cl


async def test_session_ended_stores_transcripts_and_moves_the_audio_once(
    client: AsyncTestClient[Litestar],
    nats_url: str,
    backend: str,
) -> None:
    audio = b"OggS" + os.urandom(700_000)
    event = session_ended(audio)
    await _setup(nats_url, audio, event)
    items = await _recordings(client, event.session_id, 3)
    by_format = {i["format"]: i for i in items}
    assert set(by_format) == {"json", "vtt", "ogg"}
    ogg = by_format["ogg"]
    assert ogg["bytes"] == len(audio) and ogg["sha256"] == hashlib.sha256(audio).hexdigest()
    assert ogg["uri"].startswith({"file": "file://", "s3": "s3://", "azure": "az://", "gcs": "gs://"}[backend])
    body = await client.get(ogg["content_url"], headers=AUTH)
    assert body.status_code == 200 and body.content == audio
    assert body.headers["content-type"] == "audio/ogg"
    vtt = (await client.get(by_format["vtt"]["content_url"], headers=AUTH)).text
    assert vtt.startswith("WEBVTT") and "00:00:02.000 --> 00:00:05.000" in vtt and "Hi &lt;Ada> &amp; co" in vtt
    assert "-->" not in vtt.split("\n")[4]  # a cue's text never carries the timing arrow
    doc = (await client.get(by_format["json"]["content_url"], headers=AUTH)).json()
    assert [m["seq"] for m in doc["messages"]] == [1, 2]
    # The object-store copy is gone once the blob is confirmed.
    nc = await nats.connect(nats_url)
    try:
        await (await nc.jetstream().object_store("voice-audio")).get_info(event.recording.key)  # type: ignore[union-attr]
        gone = False
    except Exception:
        gone = True
    assert gone
    # Redelivered (outside the de-duplication window): nothing is stored twice.
    await nc.jetstream().publish(c.subject_for(event), c.encode(event), headers={"Nats-Msg-Id": "again"})
    await nc.close()
    await asyncio.sleep(1.5)  # time for a second copy to be stored, were it stored twice
    assert len(await _recordings(client, event.session_id, 3)) == 3
    stored = [e for e in await stream_events(nats_url) if isinstance(e, c.RecordingStored)]
    assert sorted(e.kind for e in stored) == ["audio", "transcript", "transcript"]


async def test_range_requests_return_exactly_the_bytes_asked_for(
    client: AsyncTestClient[Litestar], nats_url: str
) -> None:
    audio = bytes(range(256)) * 40  # 10,240 bytes, every offset recognisable
    event = session_ended(audio)
    await _setup(nats_url, audio, event)
    ogg = next(i for i in await _recordings(client, event.session_id, 3) if i["format"] == "ogg")
    url = ogg["content_url"]
    cases = {"bytes=0-9": audio[0:10], "bytes=100-355": audio[100:356], "bytes=10230-": audio[10230:],
             "bytes=-7": audio[-7:], "bytes=10000-99999": audio[10000:]}  # fmt: skip
    for header, expected in cases.items():
        r = await client.get(url, headers={**AUTH, "Range": header})
        assert r.status_code == 206, header
        assert r.content == expected, header
        assert r.headers["content-range"].endswith(f"/{len(audio)}")
        assert int(r.headers["content-length"]) == len(expected)
    for bad in ("bytes=20000-", "bytes=5-2"):
        r = await client.get(url, headers={**AUTH, "Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-range"] == f"bytes */{len(audio)}"
    # Another unit must be ignored (RFC 9110); several ranges or a malformed one may be: the whole content.
    for ignored in ("items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=-"):
        r = await client.get(url, headers={**AUTH, "Range": ignored})
        assert r.status_code == 200 and r.content == audio, ignored
        assert "content-range" not in r.headers


def _on_s3(recordings_db: str, nats_url: str, tmp_path: Path, s3: SeaweedServer, **extra: object) -> Settings:
    """A recordings service's settings with its blobs on `s3` (`extra` overrides any of them)."""
    common = {"database_url": recordings_db, "api_keys": API_KEY, "nats_url": nats_url, "migrate_on_start": False}
    return Settings(**(common | blob_settings("s3", tmp_path, s3) | extra))  # type: ignore[arg-type]


async def test_blob_storage_down_is_retried_and_everything_lands_once_it_is_back(
    recordings_db: str, nats_url: str, tmp_path: Path
) -> None:
    s3 = s3_server(tmp_path)  # not started yet: the blob store is down
    audio = b"OggS" + os.urandom(50_000)
    event = session_ended(audio)
    await _setup(nats_url, audio, event)
    async with AsyncTestClient(app=create_app(_on_s3(recordings_db, nats_url, tmp_path, s3))) as client:
        await asyncio.sleep(6)  # the blob store stays down through a delivery and two retries
        assert (await client.get(f"/v1/recordings?session_id={event.session_id}", headers=AUTH)).json()["items"] == []
        s3.start()
        try:
            assert len(await _recordings(client, event.session_id, 3, timeout=60)) == 3
        finally:
            s3.kill()
    nc = await nats.connect(nats_url)
    assert (await nc.jetstream().stream_info("DLQ")).state.messages == 0
    await nc.close()


async def test_content_is_a_503_while_blob_storage_is_down_and_a_404_once_the_object_is_gone(
    recordings_db: str, nats_url: str, tmp_path: Path
) -> None:
    s3 = s3_server(tmp_path).start()
    settings = _on_s3(recordings_db, nats_url, tmp_path, s3)
    audio = b"OggS" + os.urandom(20_000)
    event = session_ended(audio)
    await _setup(nats_url, audio, event)
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            items = await _recordings(client, event.session_id, 3)
            url = next(i for i in items if i["format"] == "ogg")["content_url"]
            s3.stop()
            down = await client.get(url, headers=AUTH)
            assert down.status_code == 503, down.text  # an answer to retry, not a 200 cut short
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.headers["retry-after"] == "5"
            s3.start()

            # Its S3 gateway answers before its volume server has registered again: a 503 or two (retried, as
            # its Retry-After says) until the object can be read, then the whole object.
            async def answered() -> Any:
                r = await client.get(url, headers=AUTH)
                return r if r.status_code != 503 else None

            back = await eventually(answered, timeout=30, interval=0.2, what="the recording after the outage")
            assert back.status_code == 200 and back.content == audio
            behind_its_back = open_blob_store(settings)
            assert await behind_its_back.delete_prefix("audio/") == 1
            gone = await client.get(url, headers=AUTH)
            assert gone.status_code == 404, gone.text
            assert "not in blob storage" in gone.json()["detail"]
    finally:
        s3.kill()


async def test_content_from_a_store_that_never_answers_is_a_503_after_the_read_timeout(
    recordings_db: str, nats_url: str, tmp_path: Path
) -> None:
    s3 = s3_server(tmp_path).start()
    audio = b"OggS" + os.urandom(20_000)
    event = session_ended(audio)
    await _setup(nats_url, audio, event)
    try:
        async with AsyncTestClient(app=create_app(_on_s3(recordings_db, nats_url, tmp_path, s3))) as client:
            items = await _recordings(client, event.session_id, 3)
    finally:
        s3.kill()
    url = next(i for i in items if i["format"] == "ogg")["content_url"]
    silent = socket.create_server(("127.0.0.1", 0))  # takes connections, never answers
    try:
        settings = _on_s3(recordings_db, nats_url, tmp_path, s3, run_consumer=False, blob_read_timeout_seconds=1.0,
                          blob_s3_endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}")  # fmt: skip
        async with AsyncTestClient(app=create_app(settings)) as client:
            started = time.monotonic()
            r = await client.get(url, headers=AUTH)
            assert time.monotonic() - started < 5  # not the client library's 3 minutes of retries
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
    finally:
        silent.close()


@pytest.mark.parametrize("backend", ["file"], indirect=True)
async def test_an_event_postgres_cannot_store_is_dead_lettered_on_its_first_delivery_and_leaves_no_blob(
    client: AsyncTestClient[Litestar],
    nats_url: str,
    settings: Settings,
) -> None:
    audio = b"OggS" + os.urandom(1000)
    bad = session_ended(audio)
    assert bad.recording is not None  # a content type with a NUL: the recording's row cannot hold it
    bad = msgspec.structs.replace(bad, recording=msgspec.structs.replace(bad.recording, content_type="audio/ogg\x00"))
    good = session_ended(audio)
    await _setup(nats_url, audio, bad)
    await _setup(nats_url, audio, good)
    await _recordings(client, good.session_id, 3)
    await asyncio.sleep(2.5)  # a retried event would be redelivered after 1 s, then 2 s
    nc = await nats.connect(nats_url)
    info = await nc.jetstream().consumer_info("VOICE", "recordings")
    await nc.close()
    assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)
    # The audio written before its row was refused is deleted (no row will ever name it), not left behind; the
    # agent's object-store copy stays for a mended event's replay.
    blobs = open_blob_store(settings)
    assert await blobs.size(object_key("audio", good.conversation_id, good.session_id, "audio.ogg")) == len(audio)
    assert await blobs.size(object_key("audio", bad.conversation_id, bad.session_id, "audio.ogg")) is None
    nc = await nats.connect(nats_url)
    store = await nc.jetstream().object_store("voice-audio")
    assert bad.recording is not None
    assert (await store.get(bad.recording.key)).data == audio
    await nc.close()
