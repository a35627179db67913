"""What the OpenAPI documents of Parley's APIs say about errors and request bodies, so generated clients
and API fuzzers see the API as it answers.

* Every error is documented as an RFC 9457 problem (`application/problem+json`, the `Problem` schema):
  `problems(404, 409)` gives a route the statuses it answers with besides the ones every API route has
  (400 invalid request, 401 no API key, 500 a bug, 503 a dependency down or too slow).
* A request body that refuses unknown fields (`forbid_unknown_fields=True`) says so with
  `additionalProperties: false`; Litestar's own schema of a msgspec struct leaves it out.
"""

from __future__ import annotations

import msgspec
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.typing import FieldDefinition

PROBLEM_JSON = "application/problem+json"


class InvalidField(msgspec.Struct):
    """What was wrong with one part of a request that failed validation, and where."""

    message: str
    key: str | None = None
    source: str | None = None  # body, query, path, header


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details; extension members may be added."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[InvalidField] | None = None


class Readiness(msgspec.Struct):
    """`GET /ready`: `ready` or `unavailable`, and how each check went."""

    status: str
    checks: dict[str, bool]


_MEANING = {
    400: "Invalid request: a parameter or the body failed validation",
    401: "Missing or invalid API key (`WWW-Authenticate: Bearer`)",
    404: "Not found",
    409: "Conflicts with the resource's state",
    413: "Request body too large",
    416: "Range not satisfiable (`Content-Range: bytes */<size>`)",
    422: "Idempotency-Key reused with another body",
    500: "Internal error (a bug: nothing internal is echoed)",
    501: "Not possible with this deployment's configuration (the detail says what to use instead)",
    502: "LiveKit refused the request",
    503: "A dependency is down or too slow; retry after `Retry-After` seconds",
}
COMMON = (400, 401, 500, 503)


def problems(*statuses: int, common: tuple[int, ...] = COMMON) -> dict[int, ResponseSpec]:
    """The error responses of a route: `statuses` and `common`, each a `Problem`."""
    return {
        status: ResponseSpec(
            data_container=Problem, description=_MEANING[status], media_type=PROBLEM_JSON, generate_examples=False
        )
        for status in sorted({*common, *statuses})
    }


class StrictStructSchemaPlugin(StructSchemaPlugin):
    """Litestar's msgspec struct schema, with `additionalProperties: false` where the struct forbids them."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
