"""An in-memory platform for the console's use cases: history's, rooms' and recordings' answers, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from parley_console.upstream import Json


@dataclass
class FakePlatform:
    calls_page: Json = field(default_factory=lambda: {"items": [], "next_cursor": None})
    erasures_page: Json = field(default_factory=lambda: {"items": [], "next_cursor": None})
    conversations: dict[str, Json] = field(default_factory=dict)
    sessions: dict[str, Json] = field(default_factory=dict)
    erased: dict[str, Json] = field(default_factory=dict)
    stored: dict[str, list[Json]] = field(default_factory=dict)
    hits: list[Json] = field(default_factory=list)
    asked: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    async def calls(self, params: Mapping[str, str]) -> Json:
        self.asked.append(("calls", dict(params)))
        return self.calls_page

    async def erasures(self, params: Mapping[str, str]) -> Json:
        self.asked.append(("erasures", dict(params)))
        return self.erasures_page

    async def erasure(self, conversation_id: str) -> Json | None:
        return self.erased.get(conversation_id)

    async def conversation(self, conversation_id: str) -> Json | None:
        return self.conversations.get(conversation_id)

    async def session(self, session_id: str) -> Json | None:
        return self.sessions.get(session_id)

    async def recordings(self, conversation_id: str) -> list[Json]:
        return self.stored.get(conversation_id, [])

    async def search(self, params: Mapping[str, str]) -> Json:
        self.asked.append(("search", dict(params)))
        return {"items": self.hits, "next_offset": None}

    rooms_listed: dict[str, list[Json]] = field(default_factory=dict)  # by status
    room_details: dict[str, Json] = field(default_factory=dict)
    created: list[Json] = field(default_factory=list)
    tokens: list[tuple[str, Json]] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    erase_requests: list[str] = field(default_factory=list)

    async def rooms(self, params: Mapping[str, str]) -> Json:
        self.asked.append(("rooms", dict(params)))
        return {"items": self.rooms_listed.get(params.get("status", ""), []), "next_cursor": None}

    async def room(self, name: str) -> Json | None:
        return self.room_details.get(name)

    async def create_room(self, body: Json) -> Json:
        self.created.append(body)
        name = f"room-{len(self.created)}"
        metadata = {"conversation_id": f"conv-{len(self.created)}", **body}
        return {"name": name, "conversation_id": metadata["conversation_id"], "metadata": metadata}

    async def token(self, room: str, body: Json) -> Json:
        self.tokens.append((room, body))
        return {"token": f"token-for-{room}", "url": "http://livekit.internal:7880"}

    async def end_room(self, name: str) -> bool:
        self.ended.append(name)
        return True

    async def erase(self, conversation_id: str) -> bool:
        self.erase_requests.append(conversation_id)
        return conversation_id in self.conversations
