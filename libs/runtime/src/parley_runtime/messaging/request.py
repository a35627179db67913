"""Ask a NATS micro service (history's) and decode its JSON reply, with one error for every way that fails.

No responder, a timeout, NATS down, an error reply (the micro protocol's `Nats-Service-Error-Code` and
`Nats-Service-Error` headers) and an unreadable reply all raise `Unanswered`, saying which; what that means
(start a call with no history, or wait for history) is the caller's to decide.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
import nats.errors
from nats.aio.client import Client

R = TypeVar("R")


class Unanswered(Exception):
    """The service gave no usable answer; the message says why (never any payload)."""


async def ask(nc: Client, subject: str, request: msgspec.Struct, reply_type: type[R], *, timeout: float) -> R:
    try:
        msg = await nc.request(subject, msgspec.json.encode(request), timeout=timeout)
    except (TimeoutError, nats.errors.TimeoutError) as exc:
        raise Unanswered("timeout") from exc
    except nats.errors.NoRespondersError as exc:
        raise Unanswered("no responder") from exc
    except (nats.errors.Error, OSError) as exc:
        raise Unanswered(type(exc).__name__) from exc
    headers = msg.headers or {}
    if code := headers.get("Nats-Service-Error-Code"):
        raise Unanswered(f"error {code}: {headers.get('Nats-Service-Error', '')}")
    try:
        return msgspec.json.decode(msg.data, type=reply_type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise Unanswered(f"unreadable reply: {exc}") from exc
