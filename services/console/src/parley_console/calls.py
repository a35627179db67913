"""What the console's pages show, assembled from the platform (`upstream.Platform`): the call log, one call,
and search hits with the words that matched. Nothing here knows HTTP or NATS."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from parley_console.upstream import Json, Platform

STATUSES = ("live", "ended", "agent_lost", "pending", "erased")
PAGE = 50
_WORD = re.compile(r"\w+", re.UNICODE)
# websearch_to_tsquery's own words: they shape the query and match nothing themselves.
_OPERATORS = {"or", "and", "not"}


@dataclass(frozen=True)
class CallFilter:
    user_id: str | None = None
    since: str | None = None
    until: str | None = None
    status: str | None = None
    cursor: str | None = None

    def params(self) -> dict[str, str]:
        given = {"user_id": self.user_id, "since": self.since, "until": self.until, "cursor": self.cursor}
        return {k: v for k, v in given.items() if v} | {"limit": str(PAGE)}


async def call_log(platform: Platform, f: CallFilter) -> Json:
    """A page of the call log. Erased conversations are gone from history: `status=erased` lists the erasures
    (when, and whether every service has finished), with nothing of what was said."""
    if f.status == "erased":
        page = await platform.erasures({k: v for k, v in f.params().items() if k in ("limit", "cursor")})
        items = [
            {"conversation_id": e["conversation_id"], "status": "erased", "started_at": e["requested_at"],
             "erased_at": e["requested_at"], "erasure": e["status"]}
            for e in page.get("items", [])
        ]  # fmt: skip
        return {"items": items, "next_cursor": page.get("next_cursor")}
    params = f.params() | ({"status": f.status} if f.status else {})
    page = await platform.calls(params)
    return {"items": page["items"], "next_cursor": page.get("next_cursor")}


async def call_detail(platform: Platform, conversation_id: str) -> Json | None:
    """One call: its sessions (each with its turns, handoffs, usage, and analysis with its cost) in time order,
    and its recordings. An erased call says only that it was erased, and when; None when there never was one."""
    found, recordings = await asyncio.gather(
        platform.conversation(conversation_id), platform.recordings(conversation_id)
    )
    if found is None:
        erasure = await platform.erasure(conversation_id)
        if erasure is None:
            return None
        return {"conversation": {"id": conversation_id}, "erased": erasure, "sessions": [], "recordings": []}
    details = await asyncio.gather(*(platform.session(s["id"]) for s in found["sessions"]))
    sessions = []
    for summary, detail in zip(found["sessions"], details, strict=True):
        turns = detail["turns"] if detail else []
        handoffs = detail.get("handoffs", []) if detail else []
        analysis = detail.get("analysis") if detail else None
        sessions.append({**summary, "turns": turns, "handoffs": handoffs, "analysis": analysis})
    return {"conversation": found["conversation"], "sessions": sessions, "recordings": recordings}


def query_words(query: str) -> set[str]:
    """The words a full-text query matches on (lower case), without its operators or excluded words."""
    kept = set()
    for token in re.findall(r'-?"[^"]*"|-?\S+', query):
        if token.startswith("-"):
            continue  # `-word` excludes: a hit never holds it
        kept |= {w.lower() for w in _WORD.findall(token) if w.lower() not in _OPERATORS}
    return kept


def highlight(text: str, words: set[str]) -> list[dict[str, Any]]:
    """`text` cut into fragments, each marked where it is one of `words` (as the search matched them: whole
    words, any case). The page renders fragments as text, so a turn's text is never markup."""
    fragments: list[dict[str, Any]] = []
    at = 0
    for m in _WORD.finditer(text):
        if m.group().lower() not in words:
            continue
        if m.start() > at:
            fragments.append({"text": text[at : m.start()], "match": False})
        fragments.append({"text": m.group(), "match": True})
        at = m.end()
    if at < len(text):
        fragments.append({"text": text[at:], "match": False})
    return fragments


async def search(platform: Platform, query: str, offset: int = 0) -> Json:
    page = await platform.search({"q": query, "limit": "20", "offset": str(offset)})
    words = query_words(query)
    hits = [
        {**{k: h["turn"][k] for k in ("conversation_id", "session_id", "seq", "role", "occurred_at")},
         "fragments": highlight(h["turn"]["text"], words)}
        for h in page.get("items", [])
    ]  # fmt: skip
    return {"items": hits, "next_offset": page.get("next_offset")}


async def open_rooms(platform: Platform) -> list[Json]:
    """The rooms not yet ended (waiting for their agent, or in a call), newest first, each with its participants
    and its agent's state as rooms knows it."""
    pages = await asyncio.gather(*(platform.rooms({"status": s, "limit": "100"}) for s in ("active", "waiting")))
    listed = sorted((r for page in pages for r in page.get("items", [])), key=lambda r: r["created_at"], reverse=True)
    details = await asyncio.gather(*(platform.room(r["name"]) for r in listed))
    return [
        {**room, **(detail or {}), "agent_state": agent_state(detail or room)}
        for room, detail in zip(listed, details, strict=True)
    ]


def agent_state(room: Json) -> str:
    if room.get("status") == "waiting":
        return "dispatched, not yet joined" if not room.get("agent_redispatches") else "re-dispatched after a loss"
    if room.get("status") == "active":
        return "in the call" if room.get("agent_session_id") else "joining"
    return room.get("end_reason") or "ended"
