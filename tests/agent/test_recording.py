"""Recordings that could not be uploaded at the call's end wait on disk and go up on a later pass."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nats
import pytest

import parley_contracts as c
from parley_agent.recording import object_key, stash, store_recording, upload_pending
from parley_contracts.streams import AUDIO_BUCKET
from parley_devstack.small_disk import fill
from parley_runtime.messaging.provision import provision


def _recording(tmp_path: Path, name: str, data: bytes) -> tuple[Path, c.RecordingRef]:
    path = tmp_path / f"{name}.ogg"
    path.write_bytes(data)
    ref = c.RecordingRef(
        bucket=AUDIO_BUCKET,
        key=object_key(f"conv-{name}", f"sess-{name}"),
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="audio/ogg",
    )
    return path, ref


async def test_stashed_recordings_are_uploaded_and_an_unreadable_reference_is_set_aside(
    nats_url: str, tmp_path: Path
) -> None:
    pending = tmp_path / "audio-pending"
    for name, data in (("a", b"OggS first"), ("b", b"OggS second")):
        stash(*_recording(tmp_path, name, data), pending)
    assert not list(pending.glob("*.part")), "stash leaves no partial files behind"
    # A reference cut short (by a crash before writes were atomic) sorts first and must not block the rest.
    (pending / "0-torn.json").write_bytes(b'{"bucket": "voice-au')
    (pending / "0-torn").write_bytes(b"OggS")

    nc = await nats.connect(nats_url)
    try:
        await provision(nc.jetstream())
        assert await upload_pending(nc, pending, timeout=10) == 2
        store = await nc.jetstream().object_store(AUDIO_BUCKET)
        assert (await store.get(object_key("conv-a", "sess-a"))).data == b"OggS first"
        assert (await store.get(object_key("conv-b", "sess-b"))).data == b"OggS second"
        assert await upload_pending(nc, pending, timeout=10) == 0
    finally:
        await nc.close()
    assert sorted(p.name for p in pending.iterdir()) == ["0-torn", "0-torn.json.unreadable"]


async def test_audio_neither_uploaded_nor_kept_on_a_full_disk_is_left_out_and_leaves_no_partial_file(
    full_disk_room: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, ref = _recording(tmp_path, "full", b"OggS" + bytes(2_000_000))
    pending = full_disk_room / "audio-pending"
    filler = fill(full_disk_room, leave=500_000)  # the copy starts, then the disk is full
    kept = await store_recording(None, path, key=ref.key, pending_dir=pending, timeout=1, duration=None)
    assert kept is None  # session_ended must not name an object that will never exist
    assert not [p for p in pending.iterdir()], "a partial copy would only take space"
    assert any(r.getMessage() == "recording lost: neither uploaded nor kept on disk" for r in caplog.records)
    filler.unlink()
    assert await store_recording(None, path, key=ref.key, pending_dir=pending, timeout=1, duration=None) == ref
