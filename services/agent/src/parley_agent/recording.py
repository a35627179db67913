"""Hand the call's audio (OGG from the framework's recorder) to the recordings service.

The file lives in the job's temp dir, which the framework deletes at cleanup, so it is uploaded to the
NATS object store during `on_session_end`. If NATS is unavailable the file is moved to
`<state_dir>/audio-pending/` and uploaded later by the worker's background task; either way the
`session_ended` event carries the object's key, size and sha256, and the recordings service retries
until the object is there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from pathlib import Path

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.js.errors import Error as JetStreamError
from nats.js.object_store import ObjectStore

import parley_contracts as c
from parley_contracts.streams import AUDIO_BUCKET

logger = logging.getLogger(__name__)
CONTENT_TYPE = "audio/ogg"


def object_key(conversation_id: str, session_id: str) -> str:
    return f"{conversation_id}/{session_id}/audio.ogg"


def _digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


async def put_object(nc: Client, path: Path, key: str) -> None:
    store: ObjectStore = await nc.jetstream().object_store(AUDIO_BUCKET)
    with path.open("rb") as f:
        await store.put(key, f)


async def store_recording(
    nc: Client | None, path: Path, *, key: str, pending_dir: Path, timeout: float, duration: float | None
) -> c.RecordingRef | None:
    """Upload the audio, or keep it on disk for a later upload; the reference `session_ended` carries. None when
    the audio can be neither uploaded nor kept (its file unreadable, the state disk full): the call's end then
    goes out without it, rather than naming an object that will never exist, which recordings would wait for."""
    try:
        size, sha256 = await asyncio.to_thread(_digest, path)
    except OSError as exc:
        logger.error("recording lost: its file cannot be read", extra={"key": key, "error": type(exc).__name__})
        return None
    ref = c.RecordingRef(
        bucket=AUDIO_BUCKET, key=key, bytes=size, sha256=sha256, content_type=CONTENT_TYPE, duration_seconds=duration
    )
    if nc is not None and nc.is_connected:
        try:
            await asyncio.wait_for(put_object(nc, path, key), timeout=timeout)
            logger.info("recording stored", extra={"key": key, "bytes": size})
            return ref
        except (TimeoutError, nats.errors.Error, JetStreamError, OSError) as exc:
            logger.warning("recording upload failed; kept for retry", extra={"key": key, "error": type(exc).__name__})
    try:
        stash(path, ref, pending_dir)
    except OSError as exc:
        logger.error(
            "recording lost: neither uploaded nor kept on disk", extra={"key": key, "error": type(exc).__name__}
        )
        return None
    return ref


def stash(path: Path, ref: c.RecordingRef, pending_dir: Path) -> None:
    """Keep the audio and its reference for `upload_pending`; on a failing disk, raise and leave nothing behind."""
    pending_dir.mkdir(parents=True, exist_ok=True)
    name = ref.key.replace("/", "__")
    try:
        shutil.copyfile(path, pending_dir / f"{name}.part")
        (pending_dir / f"{name}.part").rename(pending_dir / name)
        # The reference last, and whole (renamed into place): a reference found always has its audio beside it.
        (pending_dir / f"{name}.json.part").write_bytes(msgspec.json.encode(ref))
        (pending_dir / f"{name}.json.part").rename(pending_dir / f"{name}.json")
    except OSError:
        for leftover in (f"{name}.part", name, f"{name}.json.part"):  # a part copy would only take space
            (pending_dir / leftover).unlink(missing_ok=True)
        raise


async def upload_pending(nc: Client, pending_dir: Path, timeout: float) -> int:
    """Upload stashed recordings; returns how many went through. Safe to run from several workers."""
    done = 0
    for meta in await asyncio.to_thread(lambda: sorted(pending_dir.glob("*.json"))):
        audio = meta.with_suffix("")
        if not audio.exists():
            meta.unlink(missing_ok=True)
            continue
        try:
            ref = msgspec.json.decode(meta.read_bytes(), type=c.RecordingRef)
        except msgspec.DecodeError:
            # Unreadable (a reference from before atomic writes, cut short): set aside for an operator
            # rather than fail every pass and hold back the recordings after it.
            logger.error("unreadable pending recording reference set aside", extra={"file": meta.name})
            meta.rename(meta.with_name(meta.name + ".unreadable"))
            continue
        try:
            await asyncio.wait_for(put_object(nc, audio, ref.key), timeout=timeout)
        except (TimeoutError, nats.errors.Error, JetStreamError, OSError):
            return done
        audio.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        done += 1
        logger.info("pending recording stored", extra={"key": ref.key})
    return done
