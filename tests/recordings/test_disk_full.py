"""Blob storage out of disk: a `file://` blob store on a small tmpfs, filled before a call's recording arrives.

The small transcripts fit, the audio's write fails (ENOSPC): the event must be retried, not dead-lettered, a
failed write must leave no partial object behind taking space, and the audio must land once space is freed.
Mounting a tmpfs needs root; where that is refused the test is skipped, saying so (`full_disk_room`).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import nats
import pytest
from litestar.testing import AsyncTestClient

from parley_devstack.small_disk import fill
from parley_recordings.app import create_app
from parley_recordings.settings import Settings

from .conftest import API_KEY, AUTH, session_ended
from .test_flow import _recordings, _setup

pytestmark = [pytest.mark.fault, pytest.mark.slow]


async def test_a_full_blob_disk_is_retried_leaves_no_partial_objects_and_everything_lands_once_freed(
    full_disk_room: Path, recordings_db: str, nats_url: str
) -> None:
    blobs = full_disk_room / "blobs"
    blobs.mkdir()
    settings = Settings(
        database_url=recordings_db, api_keys=API_KEY, nats_url=nats_url, migrate_on_start=False,
        blob_url=blobs.as_uri(),
    )  # fmt: skip
    filler = fill(full_disk_room, leave=500_000)  # room for the transcripts, not for the audio
    audio = b"OggS" + os.urandom(2_000_000)
    event = session_ended(audio)
    await _setup(nats_url, audio, event)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await asyncio.sleep(6)  # first delivery, then retries after 1 s and 2 s
        listed = (await client.get(f"/v1/recordings?session_id={event.session_id}", headers=AUTH)).json()["items"]
        assert sorted(i["format"] for i in listed) == ["json", "vtt"]  # the transcripts fit; the audio waits
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        info = await js.consumer_info("VOICE", "recordings")
        assert info.num_redelivered >= 1 or info.num_ack_pending == 1, info  # retried, not given up on
        assert not [p for p in (blobs / "audio").rglob("*") if p.is_file()]  # no partial object left behind
        filler.unlink()
        items = await _recordings(client, event.session_id, 3, timeout=60)
        ogg = next(i for i in items if i["format"] == "ogg")
        assert (await client.get(ogg["content_url"], headers=AUTH)).content == audio
        assert (await js.stream_info("DLQ")).state.messages == 0
        await nc.close()
