"""REST API under /v1: rooms, join tokens, and the LiveKit webhook receiver."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_rooms import store
from parley_rooms.erasure import hold_conversation, is_erased
from parley_rooms.livekit import InvalidWebhook, LiveKitGateway, LiveKitRejected, LiveKitUnavailable, MalformedWebhook
from parley_rooms.schemas import ID, CreateRoom, CreateToken, Room, RoomPage, Token, room_out
from parley_rooms.settings import Settings
from parley_rooms.webhooks import PRODUCER, Publish, handle_webhook
from parley_runtime.cursors import InvalidCursor, cursor_text, cursor_time, decode_cursor, encode_cursor
from parley_runtime.db import postgres_detail
from parley_runtime.http import NO_NUL
from parley_runtime.openapi import problems

Engine = NamedDependency[AsyncEngine]
Gateway = NamedDependency[LiveKitGateway]
Publisher = NamedDependency[Publish]
Config = NamedDependency[Settings]
RoomName = Annotated[str, Parameter(pattern=ID, description="The room name")]


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        at, name = decode_cursor(cursor, 2)
        return cursor_time(at), cursor_text(name)
    except InvalidCursor as exc:
        raise ValidationException(detail=str(exc)) from exc


# What the IETF Idempotency-Key draft asks of a second request while the first is in flight: a 409. Once the
# first has finished, a retry gets its room.
_KEY_IN_FLIGHT = "a request with this Idempotency-Key is in progress; retry it to get the room it creates"


def _conflicting_table(exc: IntegrityError) -> str | None:
    """The table whose unique key the insert hit (asyncpg names it; SQLAlchemy wraps it twice)."""
    return postgres_detail(exc, "table_name")


def _erased(conversation_id: str) -> ClientException:
    return ClientException(
        status_code=409, detail=f"conversation {conversation_id} was erased; start the call with a new conversation id"
    )


def _livekit_problem(exc: Exception) -> HTTPException:
    if isinstance(exc, LiveKitRejected):
        return HTTPException(status_code=502, detail=str(exc))
    return HTTPException(status_code=503, detail=str(exc), headers={"Retry-After": "5"})


class RoomsController(Controller):
    path = "/v1/rooms"
    tags = ["rooms"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Create a room for a call, with the agent dispatched",
        responses=problems(409, 413, 422, 502),
    )
    async def create_room(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CreateRoom],
        engine: Engine,
        livekit: Gateway,
        publish: Publisher,
        settings: Config,
    ) -> Room:
        key = request.headers.get("idempotency-key")
        if key is not None and not (0 < len(key) <= 200):
            raise ValidationException(detail="Idempotency-Key must be 1 to 200 characters")
        body_hash = hashlib.sha256(msgspec.json.encode(data)).hexdigest()
        if key:
            async with engine.connect() as conn:
                seen = await store.idempotent_room(conn, key)
                if seen is not None:
                    if seen[0] != body_hash:
                        raise ClientException(status_code=422, detail="Idempotency-Key reused with another body")
                    row = await store.get_room(conn, seen[1])
                    if row is not None:  # the same request again: the same answer, nothing new
                        return room_out(row)
        name = data.name or f"call-{uuid.uuid4().hex[:12]}"
        conversation_id = data.conversation_id or str(uuid.uuid4())
        metadata: dict[str, Any] = {"conversation_id": conversation_id}
        for field in ("user_id", "instructions", "language"):
            if getattr(data, field) is not None:
                metadata[field] = getattr(data, field)
        async with engine.connect() as conn:
            if await store.room_exists(conn, name):
                raise ClientException(status_code=409, detail=f"room {name} already exists")
            if await is_erased(conn, conversation_id):
                raise _erased(conversation_id)
        try:
            created = await livekit.create_room(name, metadata)
        except (LiveKitRejected, LiveKitUnavailable) as exc:
            raise _livekit_problem(exc) from exc
        now = datetime.now(UTC)
        try:
            async with engine.begin() as conn:
                if await hold_conversation(conn, conversation_id):  # erased meanwhile (see erasure.py)
                    raise _erased(conversation_id)
                await store.insert_room(
                    conn,
                    store.NewRoom(name, conversation_id, data.user_id, settings.agent_name, metadata, created.sid, now),
                )
                if key:
                    await store.remember_idempotency_key(conn, key, body_hash, name, now)
        except IntegrityError as exc:  # a concurrent request won the name or the key
            # The LiveKit room is the winner's when the name is (LiveKit hands both the same room); a name
            # generated here is this request's alone, and left behind it would wait out its empty timeout.
            if data.name is None:
                await livekit.delete_room(name)
            if _conflicting_table(exc) == "idempotency_keys":
                raise ClientException(status_code=409, detail=_KEY_IN_FLIGHT) from exc
            raise ClientException(status_code=409, detail=f"room {name} already exists") from exc
        except Exception:
            await livekit.delete_room(name)  # nothing half-stored: undo the LiveKit side
            raise
        publish(
            c.RoomCreated(
                event_id=c.new_event_id(),
                occurred_at=now,
                conversation_id=conversation_id,
                producer=PRODUCER,
                room_name=name,
                room_sid=created.sid,
                at=now,
            )
        )
        async with engine.connect() as conn:
            row = await store.get_room(conn, name)
        assert row is not None
        return room_out(row)

    @get("/", summary="List rooms, newest first", responses=problems())
    async def list_rooms(
        self,
        engine: Engine,
        status: Annotated[str | None, Parameter(pattern=r"^(waiting|active|ended)$")] = None,
        user_id: Annotated[str | None, Parameter(max_length=256, pattern=NO_NUL)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Parameter(max_length=512)] = None,
    ) -> RoomPage:
        after = _after(cursor) if cursor else None
        async with engine.connect() as conn:
            rows = await store.list_rooms(conn, status=status, user_id=user_id, limit=limit, after=after)
        items = [room_out(r) for r in rows[:limit]]
        nxt = encode_cursor(items[-1].created_at, items[-1].name) if len(rows) > limit else None
        return RoomPage(items=items, next_cursor=nxt)

    @get("/{name:str}", summary="One room: status, conversation, agent session, participants", responses=problems(404))
    async def get_room(self, engine: Engine, name: RoomName) -> Room:
        async with engine.connect() as conn:
            row = await store.get_room(conn, name)
            if row is None:
                raise NotFoundException(detail=f"room {name} not found")
            return room_out(row, await store.room_participants(conn, name))

    @delete(
        "/{name:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Close the room in LiveKit and mark it ended",
        responses=problems(404, 502),
    )
    async def delete_room(self, engine: Engine, livekit: Gateway, publish: Publisher, name: RoomName) -> None:
        async with engine.connect() as conn:
            row = await store.get_room(conn, name)
        if row is None:
            raise NotFoundException(detail=f"room {name} not found")
        try:
            await livekit.delete_room(name)
        except LiveKitUnavailable as exc:
            raise _livekit_problem(exc) from exc
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            changed = await store.finish_room(conn, name, now, "deleted")
        if changed:
            publish(
                c.RoomFinished(
                    event_id=c.new_event_id(),
                    occurred_at=now,
                    conversation_id=row.conversation_id,
                    producer=PRODUCER,
                    session_id=row.agent_session_id,
                    room_name=name,
                    room_sid=row.sid,
                    at=now,
                )
            )

    @post(
        "/{name:str}/tokens",
        status_code=HTTP_201_CREATED,
        summary="A join token for one participant",
        responses=problems(404, 409, 413),
    )
    async def create_token(
        self, engine: Engine, livekit: Gateway, settings: Config, name: RoomName, data: JSONBody[CreateToken]
    ) -> Token:
        ttl = data.ttl_seconds or settings.token_ttl_seconds
        if ttl > settings.max_token_ttl_seconds:
            raise ValidationException(detail=f"ttl_seconds must be at most {settings.max_token_ttl_seconds}")
        async with engine.connect() as conn:
            row = await store.get_room(conn, name)
        if row is None:
            raise NotFoundException(detail=f"room {name} not found")
        if row.status == "ended":
            raise ClientException(status_code=409, detail=f"room {name} has ended")
        token = livekit.join_token(name, data.identity, data.name, data.metadata, ttl)
        return Token(
            token=token.token, url=settings.livekit_url, room=name, identity=data.identity, expires_at=token.expires_at
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
        self, request: Request[Any, Any, Any], engine: Engine, livekit: Gateway, publish: Publisher
    ) -> dict[str, bool]:
        body = (await request.body()).decode("utf-8", errors="replace")
        auth = request.headers.get("authorization", "")
        try:
            event = livekit.verify_webhook(body, auth)
        except InvalidWebhook as exc:
            raise NotAuthorizedException(detail="invalid LiveKit webhook signature") from exc
        except MalformedWebhook as exc:  # signed by our LiveKit: say what is wrong, not "unauthorized"
            raise ValidationException(detail="LiveKit webhook body is not a webhook event") from exc
        applied = await handle_webhook(event, engine, publish)
        return {"applied": applied}
