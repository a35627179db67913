"""`parley_runtime.messaging.request.ask` over real NATS: the reply decoded, and every failure one `Unanswered`."""

from __future__ import annotations

import msgspec
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from parley_runtime.messaging.request import Unanswered, ask


class Question(msgspec.Struct):
    n: int


class Answer(msgspec.Struct):
    double: int


async def test_a_reply_is_decoded_and_each_failure_says_why(nc: Client) -> None:
    async def serve(msg: Msg) -> None:
        n = msgspec.json.decode(msg.data, type=Question).n
        if n == 1:
            await msg.respond(b'{"double": 2}')
        elif n == 2:
            error = {"Nats-Service-Error-Code": "400", "Nats-Service-Error": "bad n"}  # as nats.micro answers
            await nc.publish(msg.reply, b"", headers=error)
        elif n == 3:
            await msg.respond(b'{"double": "six"}')
        # 4: no answer at all

    await nc.subscribe("svc.q", cb=serve)
    assert await ask(nc, "svc.q", Question(n=1), Answer, timeout=2) == Answer(double=2)
    for n, why in ((2, "error 400: bad n"), (3, "unreadable reply: Expected `int`"), (4, "timeout")):
        with pytest.raises(Unanswered, match=why):
            await ask(nc, "svc.q", Question(n=n), Answer, timeout=0.5)
    with pytest.raises(Unanswered, match="no responder"):
        await ask(nc, "svc.nobody", Question(n=1), Answer, timeout=0.5)
