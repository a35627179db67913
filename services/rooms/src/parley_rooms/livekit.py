"""Everything the rooms service asks of LiveKit, through livekit-api: rooms, dispatch, tokens, webhooks (the
`ports.LiveKit` the use cases run on).

Errors become `LiveKitUnavailable` (network, timeout, 5xx: the API answers 503) or `LiveKitRejected`
(4xx: the API answers 502 with LiveKit's message), so callers never see transport details.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import aiohttp
from google.protobuf import json_format
from livekit import api

from parley_rooms.events import Webhook
from parley_rooms.ports import CreatedRoom, JoinToken, LiveKitRejected, LiveKitUnavailable, TokenGrant
from parley_rooms.settings import Settings

T = TypeVar("T")


class InvalidWebhook(Exception):
    """A webhook whose signature, hash or token does not verify."""


class MalformedWebhook(Exception):
    """A webhook whose signature verifies but whose body is no webhook event (say, a proxy rewrote it)."""


class LiveKitGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._api: api.LiveKitAPI | None = None
        self._verifier = api.WebhookReceiver(api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret))

    def _client(self) -> api.LiveKitAPI:
        if self._api is None:
            s = self.settings
            self._api = api.LiveKitAPI(
                s.livekit_url,
                s.livekit_api_key,
                s.livekit_api_secret,
                timeout=aiohttp.ClientTimeout(total=s.livekit_timeout_seconds),
            )
        return self._api

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()

    async def create_room(self, name: str, metadata: dict[str, object]) -> CreatedRoom:
        """Create the room with its metadata and an explicit dispatch of the configured agent."""
        s = self.settings
        body = json.dumps(metadata, separators=(",", ":"))
        request = api.CreateRoomRequest(
            name=name,
            metadata=body,
            empty_timeout=s.empty_timeout_seconds,
            departure_timeout=s.departure_timeout_seconds,
            agents=[api.RoomAgentDispatch(agent_name=s.agent_name, metadata=body)],
        )
        room = await self._call(self._client().room.create_room(request))
        return CreatedRoom(name=room.name, sid=room.sid)

    async def dispatch_agent(self, room: str, metadata: dict[str, object]) -> None:
        """Dispatch the configured agent to a room again (a new job), with this metadata for the job."""
        body = json.dumps(metadata, separators=(",", ":"))
        request = api.CreateAgentDispatchRequest(agent_name=self.settings.agent_name, room=room, metadata=body)
        await self._call(self._client().agent_dispatch.create_dispatch(request))

    async def replace_metadata(self, name: str, metadata: dict[str, object]) -> None:
        """Replace a live room's metadata; a room LiveKit no longer has is fine (it took its metadata along)."""
        body = json.dumps(metadata, separators=(",", ":"))
        try:
            await self._call(
                self._client().room.update_room_metadata(api.UpdateRoomMetadataRequest(room=name, metadata=body))
            )
        except LiveKitRejected as exc:
            if exc.code != "not_found":
                raise

    async def delete_room(self, name: str) -> None:
        with contextlib.suppress(LiveKitRejected):  # already gone on the LiveKit side: deleting is idempotent
            await self._call(self._client().room.delete_room(api.DeleteRoomRequest(room=name)))

    async def _call(self, coro: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(coro, timeout=self.settings.livekit_timeout_seconds)
        except api.TwirpError as exc:
            if exc.status >= 500:
                raise LiveKitUnavailable(f"LiveKit error {exc.status}: {exc.message}") from exc
            raise LiveKitRejected(f"LiveKit rejected the request ({exc.code}): {exc.message}", str(exc.code)) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise LiveKitUnavailable(f"LiveKit unreachable: {type(exc).__name__}") from exc

    def join_token(self, grant: TokenGrant) -> JoinToken:
        """A token that can join this one room as a standard participant and nothing else: no admin, no other
        room, no agent or hidden participant, no changing its own metadata or attributes afterwards."""
        s = self.settings
        grants = api.VideoGrants(
            room_join=True,
            room=grant.room,
            can_publish=True,
            can_subscribe=True,
            can_publish_data=True,
            can_update_own_metadata=False,
        )
        token = (
            api.AccessToken(s.livekit_api_key, s.livekit_api_secret)
            .with_identity(grant.identity)
            .with_kind("standard")
            .with_grants(grants)
            .with_ttl(timedelta(seconds=grant.ttl_seconds))
        )
        if grant.name:
            token = token.with_name(grant.name)
        if grant.metadata:
            token = token.with_metadata(grant.metadata)
        if grant.attributes:
            token = token.with_attributes(dict(grant.attributes))
        expires = datetime.now(UTC) + timedelta(seconds=grant.ttl_seconds)
        return JoinToken(token=token.to_jwt(), expires_at=expires)

    def verify_webhook(self, body: str, authorization: str) -> Webhook:
        """Verify LiveKit's signature over the exact raw body (JWT whose sha256 claim hashes the body)."""
        try:
            return _webhook(self._verifier.receive(body, authorization))
        except json_format.ParseError as exc:  # raised only once the signature and the body's hash verified
            raise MalformedWebhook(type(exc).__name__) from exc
        except Exception as exc:  # jwt errors, hash mismatch: "not from our LiveKit"
            raise InvalidWebhook(type(exc).__name__) from exc


def _webhook(event: api.WebhookEvent) -> Webhook:
    return Webhook(
        id=event.id,
        event=event.event,
        room_name=event.room.name,
        room_sid=event.room.sid,
        created_at=int(event.created_at),
        identity=event.participant.identity,
        kind=int(event.participant.kind),
    )
