"""A local webhook receiver for tests: each path answers as scripted (a status per request, a delay), and every
request is kept with its headers, body and time, and how many were in flight at once."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.params import FromPath


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


@dataclass
class Receiver:
    script: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses in turn (the last one repeats)
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    got: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)

    def on(self, path: str) -> list[Received]:
        return [r for r in self.got if r.path == path]

    def app(self) -> Litestar:
        @post("/{path:str}", status_code=200)
        async def receive(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[str]:
            body = await request.body()
            self.in_flight[path] = self.in_flight.get(path, 0) + 1
            self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self.in_flight[path])
            try:
                if path in self.delays:
                    await asyncio.sleep(self.delays[path])  # a slow receiver, as scripted
                statuses = self.script.get(path, [204])
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                self.got.append(Received(path, dict(request.headers), body, time.monotonic(), status))
                return Response("", status_code=status)
            finally:
                self.in_flight[path] -= 1

        return Litestar([receive])
