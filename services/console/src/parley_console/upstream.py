"""The platform as the console reads it: history, rooms and recordings through their APIs, with the console's
own key. The use cases see it through the `Platform` Protocol (tests give them an in-memory one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

Json = dict[str, Any]


class UpstreamDown(Exception):
    """A service the console reads is unreachable or failing: the console answers 503, and says which."""

    def __init__(self, service: str, why: str) -> None:
        super().__init__(f"{service} is unavailable: {why}")
        self.service = service


class UpstreamRefused(Exception):
    """A service refused what the console asked for a person (a call limit, a conflict): the console answers with
    the same status and the service's reason."""

    def __init__(self, service: str, status: int, detail: str, retry_after: str | None = None) -> None:
        super().__init__(f"{service} refused: {detail}")
        self.service, self.status, self.detail, self.retry_after = service, status, detail, retry_after


class Platform(Protocol):
    async def calls(self, params: Mapping[str, str]) -> Json: ...

    async def erasures(self, params: Mapping[str, str]) -> Json: ...

    async def erasure(self, conversation_id: str) -> Json | None: ...

    async def conversation(self, conversation_id: str) -> Json | None: ...

    async def session(self, session_id: str) -> Json | None: ...

    async def recordings(self, conversation_id: str) -> list[Json]: ...

    async def search(self, params: Mapping[str, str]) -> Json: ...

    async def rooms(self, params: Mapping[str, str]) -> Json: ...

    async def room(self, name: str) -> Json | None: ...

    async def create_room(self, body: Json) -> Json: ...

    async def token(self, room: str, body: Json) -> Json: ...

    async def end_room(self, name: str) -> bool: ...

    async def erase(self, conversation_id: str) -> bool: ...


class HttpPlatform:
    def __init__(self, *, history: str, rooms: str, recordings: str, key: str, timeout: float) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
        self.clients = {
            name: httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits)
            for name, url in (("history", history), ("rooms", rooms), ("recordings", recordings))
        }

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def _get(self, service: str, path: str, params: Mapping[str, str] | None = None) -> Json | None:
        try:
            r = await self.clients[service].get(path, params=dict(params or {}))
        except httpx.HTTPError as exc:
            raise UpstreamDown(service, type(exc).__name__) from exc
        if r.status_code == 404:
            return None
        if r.status_code >= 500 or r.status_code in (401, 403):
            raise UpstreamDown(service, f"HTTP {r.status_code}")
        r.raise_for_status()  # a 4xx here is the console's own mistake: a 500 says so
        body: Json = r.json()
        return body

    async def _must(self, service: str, path: str, params: Mapping[str, str] | None = None) -> Json:
        found = await self._get(service, path, params)
        if found is None:
            raise UpstreamDown(service, f"{path} is missing")
        return found

    async def calls(self, params: Mapping[str, str]) -> Json:
        return await self._must("history", "/v1/calls", params)

    async def erasures(self, params: Mapping[str, str]) -> Json:
        return await self._must("history", "/v1/erasures", params)

    async def erasure(self, conversation_id: str) -> Json | None:
        return await self._get("history", f"/v1/erasures/{conversation_id}")

    async def conversation(self, conversation_id: str) -> Json | None:
        return await self._get("history", f"/v1/conversations/{conversation_id}")

    async def session(self, session_id: str) -> Json | None:
        return await self._get("history", f"/v1/sessions/{session_id}")

    async def recordings(self, conversation_id: str) -> list[Json]:
        page = await self._must("recordings", "/v1/recordings", {"conversation_id": conversation_id, "limit": "200"})
        return list(page.get("items", []))

    async def search(self, params: Mapping[str, str]) -> Json:
        return await self._must("history", "/v1/search", params)

    async def rooms(self, params: Mapping[str, str]) -> Json:
        return await self._must("rooms", "/v1/rooms", params)

    async def room(self, name: str) -> Json | None:
        return await self._get("rooms", f"/v1/rooms/{name}")

    async def create_room(self, body: Json) -> Json:
        return await self._send("rooms", "POST", "/v1/rooms", body) or {}

    async def token(self, room: str, body: Json) -> Json:
        return await self._send("rooms", "POST", f"/v1/rooms/{room}/tokens", body) or {}

    async def end_room(self, name: str) -> bool:
        return await self._send("rooms", "DELETE", f"/v1/rooms/{name}") is not None

    async def erase(self, conversation_id: str) -> bool:
        return await self._send("history", "DELETE", f"/v1/conversations/{conversation_id}") is not None

    async def _send(self, service: str, method: str, path: str, body: Json | None = None) -> Json | None:
        """A write on a person's behalf: its answer (`{}` when it has no body), None for a 404; a refusal the
        person can act on (409, 422, 429) raises `UpstreamRefused`."""
        try:
            r = await self.clients[service].request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise UpstreamDown(service, type(exc).__name__) from exc
        if r.status_code == 404:
            return None
        if r.status_code in (409, 422, 429):
            detail = str(r.json().get("detail", "")) if r.headers.get("content-type", "").endswith("json") else ""
            raise UpstreamRefused(service, r.status_code, detail or r.reason_phrase, r.headers.get("retry-after"))
        if r.status_code >= 400:
            raise UpstreamDown(service, f"HTTP {r.status_code}")
        return dict(r.json()) if r.content else {}

    @asynccontextmanager
    async def recording_content(self, recording_id: str, headers: Mapping[str, str]) -> AsyncIterator[httpx.Response]:
        """The recording's bytes as the recordings service streams them (a `Range` passed through)."""
        request = self.clients["recordings"].build_request(
            "GET", f"/v1/recordings/{recording_id}/content", headers=dict(headers)
        )
        try:
            response = await self.clients["recordings"].send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamDown("recordings", type(exc).__name__) from exc
        try:
            yield response
        finally:
            await response.aclose()
