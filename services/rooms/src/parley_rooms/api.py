"""REST API under /v1: rooms, join tokens, and the LiveKit webhook receiver.

Transport only: each handler decodes its request, runs a use case (`usecases`, `events`) and answers; the
use cases' refusals become problems once, in `problem_for`.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Router, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, NotAuthorizedException, ValidationException
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from parley_rooms import usecases
from parley_rooms.events import apply_webhook
from parley_rooms.livekit import InvalidWebhook, LiveKitGateway, MalformedWebhook
from parley_rooms.ports import (
    ConversationWasErased,
    KeyInFlight,
    KeyReused,
    LimitReached,
    LiveKitRejected,
    LiveKitUnavailable,
    Publish,
    RoomEnded,
    RoomExists,
    RoomNotFound,
    RoomsError,
    RoomStore,
    TokenGrant,
    TokenRefused,
)
from parley_rooms.schemas import ID, CreateRoom, CreateToken, Room, RoomPage, Token, room_out, token_request
from parley_rooms.settings import Settings
from parley_runtime.web.access import scoped
from parley_runtime.web.cursors import (
    CURSOR_PARAMETER,
    InvalidCursor,
    cursor_text,
    cursor_time,
    decode_cursor,
    encode_cursor,
)
from parley_runtime.web.http import NO_NUL
from parley_runtime.web.openapi import problems

Store = NamedDependency[RoomStore]
Gateway = NamedDependency[LiveKitGateway]
Publisher = NamedDependency[Publish]
Config = NamedDependency[Settings]
RoomsCfg = NamedDependency[usecases.RoomsConfig]
RoomName = Annotated[str, Parameter(pattern=ID, description="The room name")]
# The token request as `rooms_routes` states it for this deployment (its cap on a token's life).
TokenRequest = CreateToken

_STATUS: dict[type[Exception], int] = {
    RoomNotFound: 404,
    RoomExists: 409,
    RoomEnded: 409,
    ConversationWasErased: 409,
    KeyInFlight: 409,
    KeyReused: 422,
    TokenRefused: 422,
    LimitReached: 429,
}


def problem_for(exc: RoomsError | LiveKitRejected | LiveKitUnavailable) -> HTTPException:
    if isinstance(exc, LiveKitRejected):
        return HTTPException(status_code=502, detail=str(exc))
    if isinstance(exc, LiveKitUnavailable):
        return HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "5"})
    if isinstance(exc, LimitReached):
        return ClientException(status_code=429, detail=str(exc), headers={"Retry-After": str(exc.retry_after)})
    return ClientException(status_code=_STATUS[type(exc)], detail=str(exc))


def _after(cursor: str) -> tuple[Any, str]:
    try:
        at, name = decode_cursor(cursor, 2)
        return cursor_time(at), cursor_text(name)
    except InvalidCursor as exc:
        raise ValidationException(detail=str(exc)) from exc


class RoomsController(Controller):
    path = "/v1/rooms"
    tags = ["rooms"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a room for a call, with the agent dispatched",
        responses=problems(409, 413, 422, 502),
        **scoped("rooms.write"),
    )
    async def create_room(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CreateRoom],
        rooms: Store,
        livekit: Gateway,
        publish: Publisher,
        rooms_config: RoomsCfg,
    ) -> Room:
        key = request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= 200):
            raise ValidationException(detail="Idempotency-Key must be 1 to 200 characters")
        try:
            room = await usecases.create_room(
                data, idempotency_key=key, store=rooms, livekit=livekit, publish=publish, config=rooms_config
            )
        except (RoomsError, LiveKitRejected, LiveKitUnavailable) as exc:
            raise problem_for(exc) from exc
        return room_out(room)

    @get("/", summary="List rooms, newest first", responses=problems(), **scoped("rooms.read"))
    async def list_rooms(
        self,
        rooms: Store,
        status: Annotated[str | None, Parameter(pattern=r"^(waiting|active|ended)$")] = None,
        user_id: Annotated[str | None, Parameter(max_length=256, pattern=NO_NUL)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> RoomPage:
        after = _after(cursor) if cursor else None
        async with rooms.read() as tx:
            found = await tx.list_rooms(status=status, user_id=user_id, limit=limit, after=after)
        items = [room_out(r) for r in found[:limit]]
        nxt = encode_cursor(items[-1].created_at, items[-1].name) if len(found) > limit else None
        return RoomPage(items=items, next_cursor=nxt)

    @get(
        "/{name:str}",
        summary="One room: status, conversation, agent session, participants",
        responses=problems(404),
        **scoped("rooms.read"),
    )
    async def get_room(self, rooms: Store, name: RoomName) -> Room:
        try:
            room, participants = await usecases.get_room(name, store=rooms)
        except RoomsError as exc:
            raise problem_for(exc) from exc
        return room_out(room, participants)

    @delete(
        "/{name:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Close the room in LiveKit and mark it ended",
        responses=problems(404, 502),
        **scoped("rooms.write"),
    )
    async def delete_room(
        self, rooms: Store, livekit: Gateway, publish: Publisher, rooms_config: RoomsCfg, name: RoomName
    ) -> None:
        try:
            await usecases.close_room(name, store=rooms, livekit=livekit, publish=publish, config=rooms_config)
        except (RoomsError, LiveKitRejected, LiveKitUnavailable) as exc:
            raise problem_for(exc) from exc

    @post(
        "/{name:str}/tokens",
        status_code=HTTP_201_CREATED,
        summary="A join token for one participant",
        description="The token joins this room only, as a standard participant. Its life is `ttl_seconds`"
        " (default ROOMS_TOKEN_TTL_SECONDS), at most ROOMS_MAX_TOKEN_TTL_SECONDS: a longer one is refused (422)."
        " It may not take an identity starting with `agent-` (how the agent joins) nor attributes under `lk.`.",
        responses=problems(404, 409, 413, 422),
        **scoped("tokens.create"),
    )
    async def create_token(
        self,
        rooms: Store,
        livekit: Gateway,
        settings: Config,
        rooms_config: RoomsCfg,
        name: RoomName,
        data: JSONBody[TokenRequest],
    ) -> Token:
        grant = TokenGrant(
            room=name,
            identity=data.identity,
            name=data.name,
            metadata=data.metadata,
            attributes=dict(data.attributes or {}),
            ttl_seconds=data.ttl_seconds or rooms_config.token_ttl_seconds,
        )
        try:
            token, expires_at = await usecases.mint_token(grant, store=rooms, livekit=livekit, config=rooms_config)
        except RoomsError as exc:
            raise problem_for(exc) from exc
        return Token(token=token, url=settings.livekit_url, room=name, identity=data.identity, expires_at=expires_at)


def rooms_routes(max_token_ttl_seconds: int) -> Router:
    """The rooms API, its document stating this deployment's cap on a join token's life."""
    return Router(
        path="/",
        route_handlers=[RoomsController],
        signature_namespace={"TokenRequest": token_request(max_token_ttl_seconds)},
    )


class WebhookController(Controller):
    """LiveKit's webhook: its own signature instead of an API key; the body is read raw, before parsing."""

    path = "/v1/livekit"
    tags = ["livekit"]

    @post(
        "/webhook",
        status_code=HTTP_200_OK,
        summary="LiveKit webhook receiver (signature verified)",
        responses=problems(413),  # its 401: a signature that does not verify
    )
    async def webhook(
        self, request: Request[Any, Any, Any], rooms: Store, livekit: Gateway, publish: Publisher
    ) -> dict[str, bool]:
        body = (await request.body()).decode("utf-8", errors="replace")
        auth = request.headers.get("authorization", "")
        try:
            hook = livekit.verify_webhook(body, auth)
        except InvalidWebhook as exc:
            raise NotAuthorizedException(detail="invalid LiveKit webhook signature") from exc
        except MalformedWebhook as exc:  # signed by our LiveKit: say what is wrong, not "unauthorized"
            raise ValidationException(detail="LiveKit webhook body is not a webhook event") from exc
        return {"applied": await apply_webhook(hook, store=rooms, publish=publish)}
