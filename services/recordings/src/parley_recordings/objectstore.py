"""Read an object from the NATS object store as a stream of chunks, fast and in bounded memory.

nats-py's `ObjectStore.get` answers flow control from a 250 ms poll (about 10-17 MB/s) and assembles
the object in memory. Here an ephemeral pull consumer on the object's chunk subject fetches chunks in
batches and yields them as they come, so memory stays at one batch whatever the object's size.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import ObjectNotFoundError


@dataclass
class ObjectInfoLite:
    size: int
    chunks: int
    sha256: str | None  # hex


class ObjectMissing(Exception):
    """The object is not (or no longer) in the object store."""


async def object_info(js: JetStreamContext, bucket: str, name: str) -> ObjectInfoLite:
    store = await js.object_store(bucket)
    try:
        info = await store.get_info(name)
    except ObjectNotFoundError as exc:
        raise ObjectMissing(name) from exc
    digest = None
    if info.digest and info.digest.startswith("SHA-256="):
        digest = base64.urlsafe_b64decode(info.digest.removeprefix("SHA-256=") + "==").hex()
    return ObjectInfoLite(size=info.size or 0, chunks=info.chunks or 0, sha256=digest)


async def stream_object(js: JetStreamContext, bucket: str, name: str, *, batch: int = 16) -> AsyncIterator[bytes]:
    store = await js.object_store(bucket)
    try:
        info = await store.get_info(name)
    except ObjectNotFoundError as exc:
        raise ObjectMissing(name) from exc
    sub = await js.pull_subscribe(
        f"$O.{bucket}.C.{info.nuid}",
        stream=f"OBJ_{bucket}",
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0, mem_storage=True
        ),
    )
    try:
        remaining = info.chunks or 0
        while remaining > 0:
            for msg in await sub.fetch(min(batch, remaining), timeout=10):
                remaining -= 1
                yield msg.data
    finally:
        await sub.unsubscribe()


async def delete_object(js: JetStreamContext, bucket: str, name: str) -> None:
    store = await js.object_store(bucket)
    with contextlib.suppress(ObjectNotFoundError):
        await store.delete(name)


async def delete_objects_under(js: JetStreamContext, bucket: str, prefix: str) -> int:
    """Delete every object whose name starts with `prefix`; returns how many were deleted.

    The names come from the bucket stream's metadata subjects (`$O.<bucket>.M.<base64url name>`), read with
    one stream-info request: nats-py's `list()` would look the stream up by subject first, an API call the
    service's NATS user has no business being granted.
    """
    store = await js.object_store(bucket)
    info = await js.stream_info(f"OBJ_{bucket}", subjects_filter=f"$O.{bucket}.M.>")
    meta_prefix = f"$O.{bucket}.M."
    names = [
        base64.urlsafe_b64decode(subject.removeprefix(meta_prefix)).decode() for subject in info.state.subjects or {}
    ]
    deleted = 0
    for name in sorted(n for n in names if n.startswith(prefix)):
        with contextlib.suppress(ObjectNotFoundError):  # deleted before (its metadata stays, marked deleted)
            await store.delete(name)
            deleted += 1
    return deleted


class Sha256Counter:
    """Hash and count bytes as they stream past."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.bytes = 0

    async def wrap(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.hash.update(chunk)
            self.bytes += len(chunk)
            yield chunk
