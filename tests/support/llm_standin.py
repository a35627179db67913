"""A local stand-in for an OpenAI-compatible chat completions API: it answers each request with the next of its
scripted replies, and keeps the requests it was sent. A reply is the assistant's content, an HTTP status to
answer with instead, or a delay before the content (a slow model)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post


@dataclass(frozen=True)
class Slow:
    seconds: float
    content: str


Reply = str | int | Slow


@dataclass
class LlmStandIn:
    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Litestar:
        @post("/v1/chat/completions", status_code=200)
        async def complete(request: Request[Any, Any, Any]) -> Response[Any]:
            body = await request.json()
            self.requests.append(body)
            reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
            if isinstance(reply, int):
                return Response({"error": {"message": "scripted failure"}}, status_code=reply)
            if isinstance(reply, Slow):
                await asyncio.sleep(reply.seconds)  # the model thinking: the client's timeout is what is tested
                reply = reply.content
            message = {"role": "assistant", "content": reply}
            return Response({"id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})  # fmt: skip

        return Litestar([complete])
