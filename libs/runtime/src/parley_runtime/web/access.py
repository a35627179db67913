"""Who may call an API, for what, how fast, and the audit trail of what they did.

* Keys (`<P>API_KEYS`, see `keys.parse_key`) carry scopes; each route names the scope it requires in its `opt`
  (`scoped("history.read")`, which also states it in the OpenAPI document). A key without it gets 403 with a
  problem naming the scope. A route of the API that names none requires `*`.
* A rate limit per key (`<P>RATE_LIMIT`, e.g. `100/s,burst=200`): a token bucket in each replica, so with N
  replicas behind a load balancer a key gets up to N times the rate (set it to the rate you mean divided by
  the replicas). Over it, 429 with `Retry-After`; every keyed response carries the IETF `RateLimit` and
  `RateLimit-Policy` headers.
* An audit line (logger `parley.audit`) for every write, and every request refused for its key, scope or rate:
  the key's name, the action (method and route template), the resource (the path), the outcome (status).
  Never a body, never a key. The same line for every keyed request goes to `parley.access` (the access log).
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Guard, Message, Receive, Scope, Send
from opentelemetry import trace

from parley_runtime.web.keys import KeyRing

audit = logging.getLogger("parley.audit")
access = logging.getLogger("parley.access")
KEY_STATE = "parley_key"  # the key's name, in the request's scope state
LIMIT_STATE = "parley_rate_limit"  # the RateLimit headers of this request
RATE = re.compile(r"^\s*(?P<rate>\d+(\.\d+)?)/s\s*(,\s*burst\s*=\s*(?P<burst>\d+)\s*)?$")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def scoped(scope: str) -> dict[str, Any]:
    """A route's keyword arguments requiring `scope`: `@get("/x", **scoped("history.read"))`."""
    return {"opt": {"scope": scope}, "security": [{"BearerToken": [scope]}]}


@dataclass
class RateLimit:
    """Token buckets per key: `rate` a second, up to `burst` at once."""

    rate: float
    burst: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, when)

    @classmethod
    def parse(cls, value: str) -> RateLimit | None:
        """`50/s,burst=100` (burst defaults to twice the rate), or `off`."""
        if value.strip().lower() == "off":
            return None
        found = RATE.match(value)
        if found is None or float(found["rate"]) <= 0:
            raise ValueError("a rate limit is RATE/s[,burst=N] (e.g. 100/s,burst=200) or off")
        rate = float(found["rate"])
        return cls(rate, int(found["burst"] or max(1, math.ceil(rate * 2))))

    def take(self, key: str, now: float | None = None) -> tuple[bool, int, int]:
        """(allowed, tokens left, seconds until the bucket is full again)."""
        now = time.monotonic() if now is None else now
        tokens, then = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self.buckets[key] = (tokens, now)
        return allowed, int(tokens), math.ceil((self.burst - tokens) / self.rate)

    def headers(self, left: int, reset: int) -> dict[str, str]:
        window = math.ceil(self.burst / self.rate)
        return {"RateLimit-Policy": f'"burst";q={self.burst};w={window}', "RateLimit": f'"burst";r={left};t={reset}'}


def key_guard(
    entries: list[str], what: str = "API key", *, default_scope: str | None = None, limit: RateLimit | None = None
) -> Guard:
    """A guard that finds the request's key (401 without one), checks the route's scope (403), and its rate (429)."""
    ring = KeyRing(entries)
    if not ring.keys:
        raise ValueError(f"at least one {what} must be configured")
    missing = f"missing or invalid {what}"

    def guard(connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler) -> None:
        key = ring.find(connection.headers.get("authorization", ""))
        if key is None:
            raise NotAuthorizedException(detail=missing, headers={"WWW-Authenticate": 'Bearer realm="parley"'})
        connection.scope.setdefault("state", {})[KEY_STATE] = key.name
        trace.get_current_span().set_attribute("parley.key_name", key.name)
        scope = route_handler.opt.get("scope", default_scope)
        if scope is not None and not key.allows(scope):
            raise PermissionDeniedException(detail=f"the key {key.name} lacks the scope {scope}",
                                            extra={"required_scope": scope})  # fmt: skip
        if limit is not None:
            allowed, left, reset = limit.take(key.name)
            headers = limit.headers(left, reset)
            if allowed:
                connection.scope["state"][LIMIT_STATE] = headers  # added to the response (access_middleware)
            else:
                retry = math.ceil((1 - limit.buckets[key.name][0]) / limit.rate)
                raise HTTPException(status_code=429, detail=f"the key {key.name} is over its rate limit",
                                    headers={**headers, "Retry-After": str(max(1, retry))})  # fmt: skip

    return guard


def access_middleware(app: ASGIApp) -> ASGIApp:
    """Adds the rate limit headers to keyed responses, and writes the audit line of writes and refusals."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state", {})
                extra = [(k.lower().encode(), v.encode()) for k, v in state.get(LIMIT_STATE, {}).items()]
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
                _audit(scope, int(message["status"]))
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware


def _audit(scope: Scope, status: int) -> None:
    method = str(scope.get("method", ""))
    who = scope.get("state", {}).get(KEY_STATE)
    line = {"who": who, "action": f"{method} {scope.get('path_template') or scope.get('path', '')}",
            "resource": scope.get("path", ""), "outcome": status}  # fmt: skip
    if who is not None:
        access.info("request", extra=line)  # every keyed request, by the key's name (DEBUG-able apart)
    if method in WRITES or status in (401, 403, 429):
        audit.info("audit", extra=line)
