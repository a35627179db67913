"""A local stand-in for LiveKit's Twirp room and dispatch API, for the real livekit-api client.

No LiveKit server runs on a machine without Docker, so the tests and `make dev` (when LIVEKIT_URL is not
set) point the rooms service at this instead. It only covers what Parley calls; calls themselves are
simulated by the agent.

It speaks what the client sends (protobuf over HTTP POST `/twirp/livekit.<Service>/<Method>`),
checks the bearer token's signature and grants like the server does, records every request, and can
be told to fail (`mode = "error"` answers 500 with a Twirp error body). It serves from its own thread
and event loop, like a real server: the app under test may block its caller's loop while it runs.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field

from aiohttp import web
from livekit import api
from livekit.api.access_token import Claims
from livekit.protocol import agent_dispatch, models, room

from parley_devstack.ports import free_port


@dataclass(frozen=True)
class SignalAttempt:
    """A client opening LiveKit's signalling connection (`/rtc`), as a browser's livekit-client does to join."""

    path: str
    websocket: bool
    room: str | None  # from the token's grant, when its signature verified; None when it did not
    identity: str | None


@dataclass
class LiveKitStandIn:
    api_key: str
    api_secret: str
    port: int = field(default_factory=free_port)
    mode: str = "ok"
    created: list[room.CreateRoomRequest] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    dispatched: list[agent_dispatch.CreateAgentDispatchRequest] = field(default_factory=list)
    rooms: dict[str, models.Room] = field(default_factory=dict)
    signalling: list[SignalAttempt] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/twirp/livekit.RoomService/{method}", self._room_service)
        app.router.add_post("/twirp/livekit.AgentDispatchService/{method}", self._dispatch_service)
        app.router.add_get("/rtc{rest:.*}", self._signal)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def start(self) -> LiveKitStandIn:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    async def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop = None

    def _grants(self, request: web.Request) -> Claims:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise web.HTTPUnauthorized(text='{"code":"unauthenticated","msg":"no token"}')
        return api.TokenVerifier(self.api_key, self.api_secret).verify(header.removeprefix("Bearer "))

    async def _signal(self, request: web.Request) -> web.StreamResponse:
        """Records the attempt and its token's grant; no media server is behind it, so the socket is then closed
        and a `validate` request gets 503 (the client says it could not connect)."""
        try:
            claims = api.TokenVerifier(self.api_key, self.api_secret).verify(request.query.get("access_token", ""))
            grant: tuple[str | None, str | None] = (claims.video.room if claims.video else None), claims.identity
        except Exception:  # any token that does not verify: recorded as such
            grant = (None, None)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        self.signalling.append(SignalAttempt(request.path, upgrade, *grant))
        if upgrade:
            socket = web.WebSocketResponse()
            await socket.prepare(request)
            await socket.close(code=1011, message=b"stand-in: no media server")
            return socket
        return web.Response(status=503, text="stand-in: no media server", headers={"Access-Control-Allow-Origin": "*"})

    def _error(self) -> web.Response:
        return web.json_response({"code": "internal", "msg": "simulated LiveKit failure"}, status=500)

    async def _room_service(self, request: web.Request) -> web.Response:
        if self.mode == "error":
            return self._error()
        claims = self._grants(request)
        method = request.match_info["method"]
        body = await request.read()
        if method == "CreateRoom":
            if not claims.video or not claims.video.room_create:
                return web.json_response({"code": "permission_denied", "msg": "no roomCreate grant"}, status=403)
            req = room.CreateRoomRequest.FromString(body)
            self.created.append(req)
            # As LiveKit does, a room that exists is returned as it is, not created again.
            created = self.rooms.get(req.name) or models.Room(
                name=req.name, sid=f"RM_{uuid.uuid4().hex[:12]}", metadata=req.metadata, empty_timeout=req.empty_timeout
            )
            self.rooms[req.name] = created
            return web.Response(body=created.SerializeToString(), content_type="application/protobuf")
        if method == "UpdateRoomMetadata":
            req_meta = room.UpdateRoomMetadataRequest.FromString(body)
            if not claims.video or not claims.video.room_admin or claims.video.room != req_meta.room:
                return web.json_response({"code": "permission_denied", "msg": "no roomAdmin grant"}, status=403)
            if req_meta.room not in self.rooms:
                return web.json_response({"code": "not_found", "msg": "room not found"}, status=404)
            self.rooms[req_meta.room].metadata = req_meta.metadata
            return web.Response(body=self.rooms[req_meta.room].SerializeToString(), content_type="application/protobuf")
        if method == "DeleteRoom":
            req_delete = room.DeleteRoomRequest.FromString(body)
            if req_delete.room not in self.rooms:
                return web.json_response({"code": "not_found", "msg": "room not found"}, status=404)
            self.deleted.append(req_delete.room)
            del self.rooms[req_delete.room]
            return web.Response(body=room.DeleteRoomResponse().SerializeToString(), content_type="application/protobuf")
        return web.json_response({"code": "bad_route", "msg": method}, status=404)

    async def _dispatch_service(self, request: web.Request) -> web.Response:
        if self.mode == "error":
            return self._error()
        self._grants(request)
        req = agent_dispatch.CreateAgentDispatchRequest.FromString(await request.read())
        if request.match_info["method"] != "CreateDispatch":
            return web.json_response({"code": "bad_route", "msg": request.match_info["method"]}, status=404)
        self.dispatched.append(req)
        dispatch = agent_dispatch.AgentDispatch(id="AD_1", agent_name=req.agent_name, room=req.room)
        return web.Response(body=dispatch.SerializeToString(), content_type="application/protobuf")
