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
