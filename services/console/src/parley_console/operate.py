"""The console's routes that start, end and repair things: /talk (a call with a microphone, or a simulated one),
/rooms, /ops (consumers, dead letters, erasures) and erasing a call. Each change needs its scope on the person's
sign-in key (403 naming it otherwise); every change and refusal is an audit line by the person's name."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    ClientException,
    NotFoundException,
    ServiceUnavailableException,
)
from litestar.params import JSONBody, Parameter

from parley_console import calls, ops, talk
from parley_console.api import Console, may, signed_in
from parley_console.failures import answered
from parley_console.upstream import Json
from parley_runtime.web.cursors import CURSOR_PARAMETER
from parley_runtime.web.openapi import problems

RoomName = Annotated[str, Parameter(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


class TalkOptions(msgspec.Struct):
    livekit_url: str | None  # where the browser joins; None: no LiveKit server, simulated calls only
    simulate: bool


class TalkController(Controller):
    path = "/api"
    tags = ["talk"]
    guards = [signed_in]

    @get("/talk", summary="What /talk can offer: a LiveKit server to join, simulated calls")
    async def options(self, console: NamedDependency[Console]) -> TalkOptions:
        return TalkOptions(livekit_url=console.settings.livekit_url, simulate=True)

    @post(
        "/talk",
        summary="A room and a join token for the person's browser",
        guards=[may("rooms.write"), may("tokens.create")],
        responses=problems(401, 403, 409, 422, 429, 503),
    )
    async def join(self, console: NamedDependency[Console], data: JSONBody[talk.NewCall]) -> talk.Joining:
        url = console.settings.livekit_url
        if not url:
            raise ServiceUnavailableException(detail="no LiveKit server is configured (CONSOLE_LIVEKIT_URL)")
        with answered():
            return await talk.join(console.platform, data, livekit_url=url)

    @post(
        "/simulations",
        summary="A simulated call: the caller's lines spoken by the agent's synthesized caller",
        guards=[may("rooms.write")],
        responses=problems(401, 403, 409, 422, 429, 503),
    )
    async def simulate(
        self, console: NamedDependency[Console], data: JSONBody[talk.NewSimulatedCall]
    ) -> talk.Simulating:
        with answered():
            return await talk.simulate(console.platform, console.agent, data)


class RoomsController(Controller):
    path = "/api/rooms"
    tags = ["rooms"]
    guards = [signed_in]

    @get(
        "/",
        summary="Open rooms, newest first, with participants",
        guards=[may("rooms.read")],
        responses=problems(401, 403, 503),
    )
    async def rooms(self, console: NamedDependency[Console]) -> list[Json]:
        with answered():
            return await calls.open_rooms(console.platform)

    @delete(
        "/{name:str}",
        status_code=204,
        summary="End a room",
        guards=[may("rooms.write")],
        responses=problems(401, 403, 404, 503),
    )
    async def end(self, console: NamedDependency[Console], name: RoomName) -> None:
        with answered():
            found = await console.platform.end_room(name)
        if not found:
            raise NotFoundException(detail=f"no room {name}")


class OpsController(Controller):
    path = "/api"
    tags = ["ops"]
    guards = [signed_in]

    @get(
        "/ops/consumers",
        summary="Each consumer's backlog, redeliveries and last activity",
        guards=[may("ops.admin")],
        responses=problems(401, 403, 503),
    )
    async def consumers(self, console: NamedDependency[Console]) -> list[ops.ConsumerState]:
        with answered():
            return await console.operations().consumers()

    @get(
        "/ops/dead-letters",
        summary="Dead letters, oldest first (never their payload)",
        guards=[may("ops.admin")],
        responses=problems(401, 403, 503),
    )
    async def dead_letters(self, console: NamedDependency[Console]) -> list[ops.Letter]:
        with answered():
            return await ops.dead_letters(console.operations())

    @post(
        "/ops/dead-letters/{action:str}",
        status_code=200,
        guards=[may("ops.admin")],
        summary="Replay dead letters to their subject, or delete them",
        responses=problems(400, 401, 403, 503),
    )
    async def act(
        self,
        console: NamedDependency[Console],
        action: Annotated[Literal["replay", "delete"], Parameter(description="replay or delete")],
        data: JSONBody[ops.ActionChoice],
    ) -> dict[str, list[ops.Letter]]:
        try:
            with answered():
                return {"done": await ops.act(console.operations(), action, data)}
        except ops.NothingChosen as exc:
            raise ClientException(detail=str(exc)) from exc

    @get(
        "/ops/erasures",
        summary="Erasure requests and whether every service has finished",
        guards=[may("history.read")],
        responses=problems(401, 403, 503),
    )
    async def erasures(
        self, console: NamedDependency[Console], cursor: Annotated[str | None, CURSOR_PARAMETER] = None
    ) -> Json:
        with answered():
            return await console.platform.erasures({"limit": "50", **({"cursor": cursor} if cursor else {})})
