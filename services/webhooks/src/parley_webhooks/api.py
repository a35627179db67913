"""REST under /v1 (bearer API key): endpoints, their delivery log, replay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromQuery, JSONBody, Parameter

from parley_runtime.web.cursors import CURSOR_PARAMETER, InvalidCursor
from parley_runtime.web.openapi import problems
from parley_webhooks.admin import Admin, Delivery, EndpointOut
from parley_webhooks.routing import KNOWN_TYPES
from parley_webhooks.store import SqlWebhookStore
from parley_webhooks.targets import url_problem

EndpointId = Annotated[str, Parameter(pattern=r"^ep_[0-9a-f]{32}$", description="An endpoint's id")]
MessageId = Annotated[str, Parameter(pattern=r"^msg_[0-9a-f]{32}$", description="A delivery's webhook-id")]
# What an endpoint may ask for: every Parley event type, `call.report`, and `*` (all of them).
EventType = StrEnum("EventType", {t: t for t in sorted(KNOWN_TYPES | {"*"})})  # type: ignore[misc]
# A host of DNS labels (ASCII: punycode for others) or IPv4, a port, a path of visible ASCII.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
URL_PATTERN = rf"^https?://(?:{_LABEL}\.)*{_LABEL}(?::[0-9]{{1,5}})?(?:/[!-~]*)?$"
Url = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=URL_PATTERN)]
Description = Annotated[str, msgspec.Meta(max_length=500, pattern=r"^[^\x00]*$")]


class NewEndpoint(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    event_types: Annotated[list[EventType], msgspec.Meta(max_length=32)] | None = None
    description: Description = ""


class EndpointChange(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    url: Url | None = None
    event_types: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=32)] | None = None
    description: Description | None = None
    enabled: bool | None = None


class EndpointList(msgspec.Struct):
    items: list[EndpointOut]


class Rotated(msgspec.Struct):
    endpoint: EndpointOut
    previous_secret_valid_until: datetime


class Queued(msgspec.Struct):
    webhook_id: str


class DeliveryPage(msgspec.Struct):
    items: list[Delivery]
    next_cursor: str | None


def _now() -> datetime:
    return datetime.now(UTC)


def _check(url: str | None, allow_private: bool) -> None:
    if url is not None and (problem := url_problem(url, allow_private=allow_private)):
        raise ValidationException(detail=f"url: {problem}")


def _names(types: list[EventType] | None) -> list[str] | None:
    return None if types is None else list(dict.fromkeys(str(t.value) for t in types))


def _found(found: Any, endpoint_id: str) -> Any:
    if found is None:
        raise NotFoundException(detail=f"no endpoint {endpoint_id}")
    return found


class EndpointsController(Controller):
    path = "/v1"
    tags = ["webhooks"]
    # Every route of this controller requires this scope of the key (parley_runtime.web.access).
    opt = {"scope": "webhooks.admin"}
    security = [{"BearerToken": ["webhooks.admin"]}]

    @post("/endpoints", status_code=201, summary="Register an endpoint; the answer holds its signing secret",
          responses=problems())  # fmt: skip
    async def create(self, admin: NamedDependency[Admin], allow_private: NamedDependency[bool],
                     data: JSONBody[NewEndpoint]) -> EndpointOut:  # fmt: skip
        _check(data.url, allow_private)
        return await admin.create(data.url, _names(data.event_types), data.description, _now())

    @get("/endpoints", summary="Every endpoint", responses=problems())
    async def list_endpoints(self, admin: NamedDependency[Admin]) -> EndpointList:
        return EndpointList(items=await admin.every())

    @get("/endpoints/{endpoint_id:str}", summary="One endpoint", responses=problems(404))
    async def get_endpoint(self, admin: NamedDependency[Admin], endpoint_id: EndpointId) -> EndpointOut:
        return _found(await admin.get(endpoint_id), endpoint_id)  # type: ignore[no-any-return]

    @patch("/endpoints/{endpoint_id:str}", summary="Change an endpoint; `enabled: true` enables it again",
           responses=problems(404))  # fmt: skip
    async def change(self, request: Request[Any, Any, Any], admin: NamedDependency[Admin],
                     allow_private: NamedDependency[bool], endpoint_id: EndpointId,
                     data: JSONBody[EndpointChange]) -> EndpointOut:  # fmt: skip
        try:  # strictly too: the framework reads 0 and "false" as booleans, and `enabled` must be one
            msgspec.json.decode(await request.body(), type=EndpointChange)
        except msgspec.ValidationError as exc:
            raise ValidationException(detail=str(exc)) from None
        _check(data.url, allow_private)
        changes = msgspec.structs.asdict(data) | {"event_types": _names(data.event_types)}
        return _found(  # type: ignore[no-any-return]
            await admin.update(endpoint_id, {k: v for k, v in changes.items() if v is not None}, _now()), endpoint_id
        )

    @delete("/endpoints/{endpoint_id:str}", status_code=204, summary="Delete an endpoint and its delivery log",
            responses=problems(404))  # fmt: skip
    async def remove(self, admin: NamedDependency[Admin], endpoint_id: EndpointId) -> None:
        if not await admin.delete(endpoint_id):
            raise NotFoundException(detail=f"no endpoint {endpoint_id}")

    @post("/endpoints/{endpoint_id:str}/rotate-secret", status_code=200, responses=problems(404),
          summary="A new signing secret; the old one keeps signing beside it for 24 hours")  # fmt: skip
    async def rotate(self, admin: NamedDependency[Admin], endpoint_id: EndpointId) -> Rotated:
        endpoint, until = _found(await admin.rotate(endpoint_id, _now()), endpoint_id)
        return Rotated(endpoint=endpoint, previous_secret_valid_until=until)

    @post("/endpoints/{endpoint_id:str}/test", status_code=202, summary="Send the endpoint a test message",
          responses=problems(404))  # fmt: skip
    async def test(self, admin: NamedDependency[Admin], store: NamedDependency[SqlWebhookStore],
                   wakeup: NamedDependency[asyncio.Event], endpoint_id: EndpointId) -> Queued:  # fmt: skip
        _found(await admin.get(endpoint_id), endpoint_id)
        message = await admin.test_message(endpoint_id, _now())
        await store.enqueue([message], _now())
        wakeup.set()
        return Queued(webhook_id=message.id)

    @get("/endpoints/{endpoint_id:str}/deliveries", summary="What was sent to an endpoint, newest first, with every"
         " attempt", responses=problems(404))  # fmt: skip
    async def deliveries(
        self,
        admin: NamedDependency[Admin],
        endpoint_id: EndpointId,
        status: FromQuery[Literal["pending", "delivered", "failed"] | None] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> DeliveryPage:
        _found(await admin.get(endpoint_id), endpoint_id)
        try:
            items, nxt = await admin.deliveries(endpoint_id, status, limit, cursor)
        except InvalidCursor as exc:
            raise ValidationException(detail=str(exc)) from exc
        return DeliveryPage(items=items, next_cursor=nxt)

    @post("/deliveries/{webhook_id:str}/replay", status_code=202, responses=problems(404),
          summary="Send a delivery again, with the same webhook-id and its retries from the start")  # fmt: skip
    async def replay(self, admin: NamedDependency[Admin], wakeup: NamedDependency[asyncio.Event],
                     webhook_id: MessageId) -> Response[Queued]:  # fmt: skip
        if not await admin.replay(webhook_id, _now()):
            raise NotFoundException(detail=f"no delivery {webhook_id}")
        wakeup.set()
        return Response(Queued(webhook_id=webhook_id), status_code=202)
