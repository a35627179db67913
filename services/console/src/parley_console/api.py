"""The console's same-origin API under /api: sign-in, the call log, a call, its live events, its recordings,
search. Every route but signing in needs a session (a signed cookie, or an identity from a trusted proxy)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import nats.errors
from litestar import Controller, Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ServiceUnavailableException,
)
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.response import ServerSentEvent, Stream
from litestar.types import Guard
from nats.aio.client import Client

from parley_console import calls, live, ops
from parley_console.failures import answered
from parley_console.sessions import COOKIE, Session, SessionSigner, Signouts, sign_in_key
from parley_console.settings import Settings
from parley_console.talk import SimulatingAgent
from parley_console.upstream import HttpPlatform, Json
from parley_contracts import ID_PATTERN
from parley_runtime.web.access import KEY_STATE
from parley_runtime.web.cursors import CURSOR_PARAMETER
from parley_runtime.web.http import NO_NUL
from parley_runtime.web.instants import instant_parameter, parse_instant
from parley_runtime.web.keys import KeyRing
from parley_runtime.web.openapi import problems

logger = logging.getLogger(__name__)
IdParam = Annotated[str, Parameter(pattern=ID_PATTERN)]
Status = Literal["live", "ended", "agent_lost", "pending", "erased"]
# What the recordings service sends back that the browser needs (a Range answered, a type, a size).
PASSED_HEADERS = ("content-type", "content-length", "content-range", "accept-ranges", "etag", "last-modified")


@dataclass
class Console:
    settings: Settings
    signer: SessionSigner
    signouts: Signouts
    platform: HttpPlatform
    agent: SimulatingAgent
    keys: KeyRing
    nc: Client | None = None

    def session_of(self, connection: ASGIConnection[Any, Any, Any, Any]) -> Session | None:
        header = self.settings.trusted_identity_header
        if header and (who := connection.headers.get(header, "").strip()):
            scopes = self.settings.proxy_scopes
            return Session(id="proxy", name=who[:200], expires_at=float("inf"), via="proxy", scopes=scopes)
        cookie = connection.cookies.get(COOKIE)
        return self.signer.read(cookie, self.signouts) if cookie else None

    def operations(self) -> ops.Operations:
        if self.nc is None or not self.nc.is_connected:
            raise nats.errors.ConnectionClosedError
        return ops.NatsOperations(self.nc.jetstream(timeout=5))


def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    console: Console = connection.app.state.runtime
    session = console.session_of(connection)
    if session is None:
        raise NotAuthorizedException(detail="sign in first")
    connection.scope["state"]["session"] = session
    connection.scope["state"][KEY_STATE] = session.name  # the access and audit lines name the person


def may(scope: str) -> Guard:
    """Refuses a person whose sign-in key lacks `scope` (the audit line of the refusal comes from the middleware)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if not connection.scope["state"]["session"].allows(scope):
            raise PermissionDeniedException(detail=f"this needs the {scope} scope, which your sign-in key lacks")

    return guard


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class Me(msgspec.Struct):
    name: str
    via: str
    expires_at: datetime | None
    scopes: list[str]  # what this person may change: the page offers only those actions


def _me(session: Session) -> Me:
    expires = None if session.via == "proxy" else datetime.fromtimestamp(session.expires_at).astimezone()
    return Me(name=session.name, via=session.via, expires_at=expires, scopes=sorted(session.scopes))


def _cookie(console: Console, value: str, max_age: int) -> Cookie:
    secure = console.settings.cookie_secure
    return Cookie(key=COOKIE, value=value, max_age=max_age, path="/", httponly=True, samesite="strict", secure=secure)


class SessionController(Controller):
    path = "/api/session"
    tags = ["session"]

    @post("/", status_code=204, summary="Sign in with an API key", responses=problems(401))
    async def sign_in(self, request: Request[Any, Any, Any], data: JSONBody[SignIn]) -> Response[None]:
        console: Console = request.app.state.runtime
        key = sign_in_key(data.key, console.keys)
        if key is None:
            logger.info("console sign-in refused", extra={"outcome": "refused"})
            raise NotAuthorizedException(detail="that key may not sign in to the console")
        name = key.name
        _, value = console.signer.issue(name, scopes=sorted(key.scopes))
        logger.info("console sign-in", extra={"who": name, "outcome": "ok"})
        return Response(None, status_code=204, cookies=[_cookie(console, value, console.signer.ttl_seconds)])

    @get("/", guards=[signed_in], summary="Who is signed in", responses=problems(401))
    async def me(self, request: Request[Any, Any, Any]) -> Me:
        return _me(request.state.session)

    @delete("/", guards=[signed_in], status_code=204, summary="Sign out", responses=problems(401))
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[None]:
        console: Console = request.app.state.runtime
        session: Session = request.state.session
        if session.via == "key":
            await console.signouts.add(session.id)
        logger.info("console sign-out", extra={"who": session.name})
        return Response(None, status_code=204, cookies=[_cookie(console, "", 0)])


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant else None


class CallsController(Controller):
    path = "/api"
    tags = ["calls"]
    guards = [signed_in]

    @get("/calls", summary="The call log, newest first", responses=problems(401, 503))
    async def call_log(
        self,
        console: NamedDependency[Console],
        user_id: Annotated[str | None, Parameter(max_length=256, pattern=NO_NUL)] = None,
        since: Annotated[str | None, instant_parameter("calls that started at or after")] = None,
        until: Annotated[str | None, instant_parameter("calls that started before")] = None,
        status: Annotated[Status | None, Parameter(description="the call's status")] = None,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> Json:
        f = calls.CallFilter(
            user_id=user_id,
            since=_iso(parse_instant(since, "since")),
            until=_iso(parse_instant(until, "until")),
            status=status,
            cursor=cursor,
        )
        with answered():
            return await calls.call_log(console.platform, f)

    @get("/calls/{conversation_id:str}", summary="One call", responses=problems(401, 404, 503))
    async def call(self, console: NamedDependency[Console], conversation_id: IdParam) -> Json:
        with answered():
            found = await calls.call_detail(console.platform, conversation_id)
        if found is None:
            raise NotFoundException(detail=f"no call {conversation_id}")
        return found

    @get("/calls/{conversation_id:str}/live", summary="A call's events as they happen (server-sent events)")
    async def follow(
        self, request: Request[Any, Any, Any], console: NamedDependency[Console], conversation_id: IdParam
    ) -> ServerSentEvent:
        if console.nc is None or not console.nc.is_connected:
            raise ServiceUnavailableException(detail="NATS is not connected", headers={"Retry-After": "5"})
        last = request.headers.get("last-event-id", "")
        after = int(last) if last.isdigit() else None
        events = live.follow(console.nc, conversation_id, after)
        return ServerSentEvent(events, headers={"X-Accel-Buffering": "no", "Cache-Control": "no-store"})

    @delete(
        "/calls/{conversation_id:str}",
        status_code=202,
        summary="Erase a conversation everywhere",
        guards=[may("history.erase")],
        responses=problems(401, 403, 404, 503),
    )
    async def erase(self, console: NamedDependency[Console], conversation_id: IdParam) -> None:
        with answered():
            found = await console.platform.erase(conversation_id)
        if not found:
            raise NotFoundException(detail=f"no call {conversation_id}")

    @get("/search", summary="Full-text search over transcripts, matched words marked", responses=problems(401, 503))
    async def search(
        self,
        console: NamedDependency[Console],
        q: Annotated[str, Parameter(min_length=1, max_length=500, pattern=NO_NUL)],
        offset: Annotated[int, Parameter(ge=0, le=10_000)] = 0,
    ) -> Json:
        with answered():
            return await calls.search(console.platform, q, offset)

    @get("/recordings/{recording_id:uuid}/content", summary="A recording's bytes (audio or transcript), ranges too")
    async def recording(
        self,
        request: Request[Any, Any, Any],
        console: NamedDependency[Console],
        recording_id: FromPath[uuid.UUID],
        download: FromQuery[bool] = False,
    ) -> Stream:
        passed = {k: v for k, v in request.headers.items() if k.lower() in ("range", "if-none-match")}
        context = console.platform.recording_content(str(recording_id), passed)
        with answered():
            upstream = await context.__aenter__()
        if upstream.status_code == 404:
            await context.__aexit__(None, None, None)
            raise NotFoundException(detail="no such recording")

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk
            finally:
                await context.__aexit__(None, None, None)

        headers = {k: v for k, v in upstream.headers.items() if k.lower() in PASSED_HEADERS}
        if download:
            headers["content-disposition"] = "attachment"  # the page's link names the file
        return Stream(body(), status_code=upstream.status_code, headers=headers)
