"""HTTP pieces every Parley API shares: bearer API keys, problem details, health and readiness.

* `GET /health`: the process is up (shallow, never touches a dependency).
* `GET /ready`: every dependency check passes (NATS connected, Postgres answers), else 503;
  `?require=postgres` decides on Postgres alone (what the chart's readiness probe asks).
* `GET /metrics`: the process's OpenTelemetry metrics in the Prometheus text format (counts and timings,
  no conversation data), for a scrape key (`<P>METRICS_KEYS`: it opens `/metrics` and nothing else, so
  Prometheus never holds a key that reads conversations) or an API key.
* Everything else, the OpenAPI document at `/schema` included, requires `Authorization: Bearer <key>`
  with an API key, found by its hash in constant time; each route requires a scope of the key, and a key is
  rate limited (`parley_runtime.web.access`).
* Every error is an RFC 9457 problem details body (`application/problem+json`), including 500s, which
  never echo internal details. An error that means a dependency is down or too slow (Postgres
  unreachable, restarting, a statement timeout) is a 503 with `Retry-After`, not a 500: clients and
  proxies retry a 503, and an outage is not a bug.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from http import HTTPStatus
from typing import Annotated, Any

from litestar import Litestar, Request, Response, Router, get
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import Parameter
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, ControllerRouterHandler, Guard, Message, Receive, Scope, Send

from parley_runtime.db import is_statement_timeout, is_transient, is_unstorable_text
from parley_runtime.messaging.handling import TransientError
from parley_runtime.observability.metrics import HTTP_DURATION
from parley_runtime.observability.telemetry import PROMETHEUS_CONTENT_TYPE, prometheus_text
from parley_runtime.web.access import RateLimit, access_middleware, key_guard
from parley_runtime.web.openapi import PROBLEM_JSON, Readiness, StrictStructSchemaPlugin, problems

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
# Free text in a request (a user id, a search, instructions): anything but NUL, which PostgreSQL cannot store.
NO_NUL = r"^[^\x00]*$"
NUL_DETAIL = "the request holds a NUL character (U+0000), which cannot be stored or searched"


def _to_problem(exc: HTTPException) -> ProblemDetailsException:
    """RFC 9457: `title` is the status phrase, `detail` says what was wrong with this request."""
    title = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
    extra = exc.extra
    return ProblemDetailsException(
        status_code=exc.status_code,
        title=title,
        detail=exc.detail,
        extra={"errors": extra} if isinstance(extra, list) else extra,
        headers=exc.headers,
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map={HTTPException: _to_problem}))


RETRY_AFTER_SECONDS = 5


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response[dict[str, object]]:
    """An RFC 9457 body built here, for what the problem details plugin does not see."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, object]]:
    """Unhandled errors: log the type (never the payload). A text Postgres cannot store (a NUL character)
    answers 400; a dependency down or too slow answers 503 with `Retry-After` (a warning, without a
    traceback: an outage would flood the log); anything else is a bug and answers a generic 500."""
    where = {"path": request.url.path, "error": type(exc).__name__}
    if is_unstorable_text(exc):
        # The APIs refuse a NUL where they validate; this catches any text that reaches Postgres unchecked.
        logger.warning("request refused by the database: a character it cannot store", extra=where)
        return _problem(400, NUL_DETAIL)
    if is_transient(exc):
        if isinstance(exc, TransientError):  # its message is Parley's own, written to be logged
            where["reason"] = str(exc)[:500]
        logger.warning("dependency unavailable", extra=where)
        detail = (
            "the database did not answer in time; retry later"
            if is_statement_timeout(exc)
            else "a dependency of this service is unavailable; retry later"
        )
        return _problem(503, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})
    logger.error("unhandled error", extra=where, exc_info=exc)
    return _problem(500, "internal error")


def health_handlers(
    checks: dict[str, ReadinessCheck], metrics_guard: Guard, timeout: float = 2.0, version: str = ""
) -> list[ControllerRouterHandler]:
    """`/health` (liveness, with the running version), `/ready` (every check in `checks`, or those `?require=`
    names, passes within `timeout`) and `/metrics` (behind `metrics_guard`)."""

    @get("/health", include_in_schema=True, tags=["health"], sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": version}

    @get("/metrics", tags=["health"], include_in_schema=False, sync_to_thread=False, guards=[metrics_guard])
    def metrics_endpoint() -> Response[bytes]:
        return Response(prometheus_text(), media_type=PROMETHEUS_CONTENT_TYPE)

    not_ready = ResponseSpec(Readiness, description="A required check failed: the same body, `unavailable`")
    # The document says which names exist, so a client (or a fuzzer) can tell a valid `require` from one
    # that is refused.
    known = "(" + "|".join(re.escape(check) for check in sorted(checks)) + ")"
    require_pattern = rf"^ *{known} *(, *{known} *)*$"

    @get(
        "/ready",
        tags=["health"],
        responses={**problems(400, common=()), 503: not_ready},
        signature_namespace={"require_pattern": require_pattern},  # the annotation below is read late
    )
    async def ready(
        require: Annotated[
            str | None,
            Parameter(
                description="Comma-separated checks that decide the status (default: all). Every check is"
                " reported either way. The chart's readiness probe requires `postgres` only: the API serves"
                " while NATS is down, so a NATS outage must not take every replica out of its Service.",
                pattern=require_pattern,
            ),
        ] = None,
    ) -> Response[Readiness]:
        # Only known names get here: Litestar refuses a `require` outside the pattern with a 400.
        required = set(checks) if require is None else {name.strip() for name in require.split(",")}
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = bool(await asyncio.wait_for(check(), timeout=timeout))
            except Exception:
                results[name] = False
        ok = all(results[name] for name in required)
        return Response(Readiness("ready" if ok else "unavailable", results), status_code=200 if ok else 503)

    return [health, ready, metrics_endpoint]


def timing_middleware(app: ASGIApp) -> ASGIApp:
    """Record every request's duration with its route template (not the raw path: ids stay out)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            route = scope.get("path_template") or "unmatched"  # the template, e.g. /v1/sessions/{session_id}
            method = str(scope.get("method", ""))
            attributes: dict[str, str | int] = {
                "http.route": str(route),
                "http.request.method": method,
                "http.response.status_code": status,
            }
            HTTP_DURATION.record(time.perf_counter() - started, attributes)

    return middleware


def route_methods(app: Litestar) -> dict[str, set[str]]:
    """Every method each path supports, from the route table: what `Allow` lists (RFC 9110 10.2.1)."""
    methods: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            methods.setdefault(route.path_format, set()).update(str(m) for m in route.methods)
    return methods


def allow_middleware(app: ASGIApp) -> ASGIApp:
    """`Allow` on an OPTIONS answer lists every method of the path, not only those of the route handler that
    happened to build the OPTIONS handler (Litestar's own lists one handler's when a path has several)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "OPTIONS":
            await app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            template = scope.get("path_template")
            if message["type"] == "http.response.start" and template is not None:
                litestar_app: Litestar = scope["litestar_app"]
                if not hasattr(litestar_app.state, "route_methods"):
                    litestar_app.state.route_methods = route_methods(litestar_app)
                allowed = litestar_app.state.route_methods.get(str(template))
                if allowed:
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    headers.append((b"allow", ", ".join(sorted(allowed)).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware


def build_app(
    *,
    title: str,
    version: str,
    api_keys: Iterable[str],
    api_handlers: list[ControllerRouterHandler],
    metrics_keys: Iterable[str] = (),
    checks: dict[str, ReadinessCheck],
    lifespan: Callable[[Litestar], AbstractAsyncContextManager[None]],
    dependencies: dict[str, Provide] | None = None,
    public_handlers: list[ControllerRouterHandler] | None = None,
    max_body_bytes: int = 64 * 1024,
    rate_limit: RateLimit | None = None,
) -> Litestar:
    """A Parley API: `api_handlers` and the OpenAPI document (/schema) behind API keys, /metrics behind a
    scrape key or an API key, health and ready open; problem details for every error, request durations
    measured, JSON logging left to parley_runtime.observability.logs."""
    api_keys = list(api_keys)
    # Each API route names the scope it requires (`access.scoped`); one that names none requires every scope.
    api_guard = key_guard(api_keys, default_scope="*", limit=rate_limit)
    schema_guard = key_guard(api_keys)
    metrics_guard = key_guard([*api_keys, *metrics_keys], "API or metrics key")
    api = Router(path="/", route_handlers=api_handlers, guards=[api_guard])
    return Litestar(
        route_handlers=[*health_handlers(checks, metrics_guard, version=version), api, *(public_handlers or [])],
        dependencies=dependencies or {},
        lifespan=[lifespan],
        plugins=[problem_details_plugin(), StrictStructSchemaPlugin()],
        middleware=[timing_middleware, access_middleware, allow_middleware],
        exception_handlers={Exception: internal_error_handler},
        request_max_body_size=max_body_bytes,
        openapi_config=OpenAPIConfig(
            title=title,
            version=version,
            # The document's own routes stay out of it: they serve the document, not the API.
            openapi_router=Router(path="/schema", route_handlers=[], guards=[schema_guard], include_in_schema=False),
            components=Components(security_schemes={"BearerToken": SecurityScheme(type="http", scheme="bearer")}),
        ),
        debug=False,
        logging_config=None,
    )
