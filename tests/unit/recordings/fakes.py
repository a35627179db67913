"""In-memory stand-ins of recordings' ports: blob storage, the recordings table, the agent's audio store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

import parley_contracts as c
from parley_recordings.objectstore import ObjectMissing
from parley_recordings.repo import Recording


@dataclass
class MemoryBlobs:
    objects: dict[str, bytes] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)

    def uri(self, key: str) -> str:
        return f"mem://bucket/{key}"

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        body = data if isinstance(data, bytes) else b"".join([chunk async for chunk in data])
        self.objects[key], self.types[key] = body, content_type

    async def size(self, key: str) -> int | None:
        return len(self.objects[key]) if key in self.objects else None

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        keys = [k for k in self.objects if k.startswith(prefix)]
        for key in keys:
            del self.objects[key]
        return len(keys)


@dataclass
class MemoryRecordings:
    rows: dict[uuid.UUID, Recording] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    busy: set[str] = field(default_factory=set)  # sessions another worker holds

    @asynccontextmanager
    async def session_claim(self, session_id: str) -> AsyncIterator[bool]:
        yield session_id not in self.busy

    async def for_session(self, session_id: str) -> list[Recording]:
        return [r for r in self.rows.values() if r.session_id == session_id]

    async def for_conversation(self, conversation_id: str) -> list[Recording]:
        return [r for r in self.rows.values() if r.conversation_id == conversation_id]

    async def put(self, rec: Recording) -> tuple[Recording, bool]:
        old = self.rows.get(rec.id)
        if old is None:
            self.rows[rec.id] = rec
            return rec, False
        if old.provisional and not rec.provisional:  # a final row replaces a provisional one, nothing else
            self.rows[rec.id] = replace(rec)
            return rec, True
        return old, False

    async def delete(self, rid: uuid.UUID) -> None:
        self.rows.pop(rid, None)

    async def retire(self, conversation_id: str, at: datetime) -> None:
        self.erased.add(conversation_id)

    async def is_erased(self, conversation_id: str) -> bool:
        return conversation_id in self.erased


@dataclass
class MemoryAudio:
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)

    async def stream(self, bucket: str, key: str) -> AsyncIterator[bytes]:
        if (bucket, key) not in self.objects:
            raise ObjectMissing(key)
        data = self.objects[bucket, key]
        for i in range(0, len(data), 4096):
            yield data[i : i + 4096]

    async def delete(self, bucket: str, key: str) -> None:
        self.objects.pop((bucket, key), None)

    async def delete_under(self, bucket: str, prefix: str) -> int:
        keys = [k for k in self.objects if k[0] == bucket and k[1].startswith(prefix)]
        for key in keys:
            del self.objects[key]
        return len(keys)


@dataclass
class Published:
    events: list[c.Event] = field(default_factory=list)

    async def __call__(self, event: c.Event) -> None:
        self.events.append(event)
