"""REST API under /v1 (bearer API key): conversations, turns, sessions, search, and erasure on request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, delete, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.params import Parameter
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley_contracts import ID_PATTERN
from parley_history import analyses, calls, erasure, queries
from parley_history.analyses import Analysis
from parley_history.calls import Call, CallFilter, CallStatus
from parley_history.erasure import Erasure
from parley_history.queries import Conversation, Handoff, SearchHit, Session, Turn
from parley_runtime.db import is_statement_timeout
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
from parley_runtime.web.instants import instant_parameter, parse_instant
from parley_runtime.web.openapi import problems

Conn = NamedDependency[AsyncConnection]
Engine = NamedDependency[AsyncEngine]
Wakeup = NamedDependency[asyncio.Event]
IdParam = Annotated[str, Parameter(pattern=ID_PATTERN, description="A conversation or session id")]


class ConversationPage(msgspec.Struct):
    items: list[Conversation]
    next_cursor: str | None


class CallPage(msgspec.Struct):
    items: list[Call]
    next_cursor: str | None


class ConversationDetail(msgspec.Struct):
    conversation: Conversation
    sessions: list[Session]


class TurnPage(msgspec.Struct):
    items: list[Turn]
    next_before: str | None


class SessionDetail(msgspec.Struct):
    session: Session
    turns: list[Turn]
    handoffs: list[Handoff] = []  # between the session's agents, in time order
    analysis: Analysis | None = None  # what insights made of it, with its cost, once it has


class SearchPage(msgspec.Struct):
    items: list[SearchHit]
    next_offset: int | None


class ErasureOut(msgspec.Struct):
    conversation_id: str
    event_id: UUID  # of its conversation_erased.v1 event
    requested_at: datetime
    turns_deleted: int
    sessions_deleted: int
    event_published: bool
    streams_purged: bool
    status: str  # "propagating" until the event is published and the streams purged, then "done"


class ErasurePage(msgspec.Struct):
    items: list[ErasureOut]
    next_cursor: str | None


def _erasure_key(cursor: str) -> tuple[datetime, str]:
    at, conversation_id = decode_cursor(cursor, 2)
    return cursor_time(at), cursor_text(conversation_id)


def _erasure_out(e: Erasure) -> ErasureOut:
    return ErasureOut(
        conversation_id=e.conversation_id,
        event_id=e.event_id,
        requested_at=e.requested_at,
        turns_deleted=e.turns_deleted,
        sessions_deleted=e.sessions_deleted,
        event_published=e.published_at is not None,
        streams_purged=e.purged,
        status="done" if e.done else "propagating",
    )


async def provide_conn(engine: NamedDependency[AsyncEngine]) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        yield conn


def _bad_cursor(exc: InvalidCursor) -> ValidationException:
    return ValidationException(detail=str(exc))


class HistoryController(Controller):
    path = "/v1"
    tags = ["history"]

    @get("/conversations", summary="List conversations, newest first", responses=problems(), **scoped("history.read"))
    async def list_conversations(
        self,
        conn: Conn,
        user_id: Annotated[str | None, Parameter(max_length=256, pattern=NO_NUL)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> ConversationPage:
        try:
            items, nxt = await queries.list_conversations(conn, user_id=user_id, limit=limit, cursor=cursor)
        except InvalidCursor as exc:
            raise _bad_cursor(exc) from exc
        return ConversationPage(items=items, next_cursor=nxt)

    @get(
        "/calls",
        summary="The call log: conversations with their sessions summed, newest first",
        responses=problems(),
        **scoped("history.read"),
    )
    async def list_calls(
        self,
        conn: Conn,
        user_id: Annotated[str | None, Parameter(max_length=256, pattern=NO_NUL)] = None,
        since: Annotated[str | None, instant_parameter("conversations that started at or after")] = None,
        until: Annotated[str | None, instant_parameter("conversations that started before")] = None,
        status: Annotated[CallStatus | None, Parameter(description="the latest session's status")] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> CallPage:
        f = CallFilter(
            user_id=user_id,
            since=parse_instant(since, "since"),
            until=parse_instant(until, "until"),
            status=status,
        )
        try:
            items, nxt = await calls.list_calls(conn, f, limit=limit, cursor=cursor)
        except InvalidCursor as exc:
            raise _bad_cursor(exc) from exc
        return CallPage(items=items, next_cursor=nxt)

    @get(
        "/conversations/{conversation_id:str}",
        summary="One conversation with its sessions",
        responses=problems(404),
        **scoped("history.read"),
    )
    async def get_conversation(self, conn: Conn, conversation_id: IdParam) -> ConversationDetail:
        found = await queries.get_conversation(conn, conversation_id)
        if found is None:
            raise NotFoundException(detail=f"conversation {conversation_id} not found")
        return ConversationDetail(conversation=found[0], sessions=found[1])

    @get(
        "/conversations/{conversation_id:str}/turns",
        summary="A conversation's turns, a page at a time",
        responses=problems(404),
        **scoped("history.read"),
    )
    async def list_turns(
        self,
        conn: Conn,
        conversation_id: IdParam,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        before: Annotated[str | None, Parameter(max_length=512)] = None,
    ) -> TurnPage:
        if await queries.get_conversation(conn, conversation_id) is None:
            raise NotFoundException(detail=f"conversation {conversation_id} not found")
        try:
            items, nxt = await queries.list_turns(conn, conversation_id=conversation_id, limit=limit, before=before)
        except InvalidCursor as exc:
            raise _bad_cursor(exc) from exc
        return TurnPage(items=items, next_before=nxt)

    @get(
        "/sessions/{session_id:str}",
        summary="One session with its turns in seq order",
        responses=problems(404),
        **scoped("history.read"),
    )
    async def get_session(self, conn: Conn, session_id: IdParam) -> SessionDetail:
        found = await queries.get_session(conn, session_id)
        if found is None:
            raise NotFoundException(detail=f"session {session_id} not found")
        return SessionDetail(
            session=found[0],
            turns=found[1],
            handoffs=await queries.session_handoffs(conn, session_id),
            analysis=await analyses.get_analysis(conn, session_id),
        )

    @get(
        "/search",
        summary="Full-text search over turn text, best match first",
        responses=problems(),
        **scoped("history.read"),
    )
    async def search(
        self,
        conn: Conn,
        search_timeout: NamedDependency[float],
        q: Annotated[str, Parameter(min_length=1, max_length=500, pattern=NO_NUL)],
        user_id: Annotated[str | None, Parameter(max_length=256, pattern=NO_NUL)] = None,
        conversation_id: Annotated[str | None, Parameter(pattern=ID_PATTERN)] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        offset: Annotated[int, Parameter(ge=0, le=10_000)] = 0,
    ) -> SearchPage:
        try:
            hits, nxt = await queries.search_turns(
                conn,
                query=q,
                user_id=user_id,
                conversation_id=conversation_id,
                limit=limit,
                offset=offset,
                timeout_seconds=search_timeout,
            )
        except DBAPIError as exc:
            if not is_statement_timeout(exc):
                raise
            raise HTTPException(
                status_code=503,
                detail=(
                    f"the search matched too many turns to rank within {search_timeout:g} s;"
                    " narrow it with user_id, conversation_id or more words"
                ),
            ) from None
        return SearchPage(items=hits, next_offset=nxt)

    @delete(
        "/conversations/{conversation_id:str}",
        status_code=202,
        responses=problems(),
        summary="Erase a conversation: its turns and sessions now, then every copy (recordings, streams)",
        description=(
            "Deletes the conversation from history at once and retires its id: events that arrive later are"
            " dropped. Then `conversation_erased.v1` is published (recordings deletes its transcripts and audio;"
            " other subscribers must delete theirs) and the conversation's events are purged from the streams;"
            " `GET /v1/erasures/{conversation_id}` tells when that is done. Repeating the request is harmless."
            " An id never seen is erased too: events still on their way are dropped when they arrive."
        ),
        **scoped("history.erase"),
    )
    async def erase_conversation(self, engine: Engine, erasure_wakeup: Wakeup, conversation_id: IdParam) -> ErasureOut:
        done = await erasure.erase(engine, conversation_id)
        erasure_wakeup.set()  # propagate now rather than at the next round
        return _erasure_out(done)

    @get(
        "/erasures",
        summary="Erasures on request, oldest first: which are still propagating",
        responses=problems(),
        **scoped("history.read"),
    )
    async def list_erasures(
        self,
        engine: Engine,
        status: Annotated[str | None, Parameter(pattern=r"^(propagating|done)$")] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> ErasurePage:
        try:
            after = _erasure_key(cursor) if cursor else None
        except InvalidCursor as exc:
            raise _bad_cursor(exc) from exc
        rows = await erasure.page(engine, status=status, after=after, limit=limit + 1)
        items = [_erasure_out(e) for e in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit else None
        return ErasurePage(
            items=items, next_cursor=encode_cursor(last.requested_at, last.conversation_id) if last else None
        )

    @get(
        "/erasures/{conversation_id:str}",
        summary="Where the erasure of a conversation stands",
        responses=problems(404),
        **scoped("history.read"),
    )
    async def get_erasure(self, engine: Engine, conversation_id: IdParam) -> ErasureOut:
        found = await erasure.get(engine, conversation_id)
        if found is None:
            raise NotFoundException(detail=f"conversation {conversation_id} was not erased")
        return _erasure_out(found)
