"""What the OpenAPI documents of Parley's APIs say about errors and request bodies, so generated clients
and API fuzzers see the API as it answers.

* Every error is documented as an RFC 9457 problem (`application/problem+json`, the `Problem` schema):
  `problems(404, 409)` gives a route the statuses it answers with besides the ones every API route has
  (400 invalid request, 401 no API key, 500 a bug, 503 a dependency down or too slow).
* A request body that refuses unknown fields (`forbid_unknown_fields=True`) says so with
  `additionalProperties: false`, and a map's bounds (its keys' pattern and length, its values', how many it
  holds) are stated as `propertyNames`, `additionalProperties` and `maxProperties`: Litestar's own schema of a
  msgspec struct leaves all of them out, so a client would send what the API then refuses.
"""

from __future__ import annotations

import msgspec
import msgspec.inspect
from litestar._openapi.schema_generation import SchemaCreator
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema
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
    403: "The key (or the person's sign-in key) lacks the scope this route requires; the detail names it",
    404: "Not found",
    409: "Conflicts with the resource's state",
    413: "Request body too large",
    416: "Range not satisfiable (`Content-Range: bytes */<size>`)",
    422: "The request is well formed but refused: an Idempotency-Key reused with another body, a token that"
    " could pose as the agent",
    429: "Over a limit (a rate, or calls in progress); retry after `Retry-After` seconds",
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
    """Litestar's msgspec struct schema, with `additionalProperties: false` where the struct forbids them and
    the bounds of its maps."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        if field_definition.type_.__struct_config__.forbid_unknown_fields:
            schema.additional_properties = False
        _bound_maps(schema, field_definition.type_)
        return schema


def _bound_maps(schema: Schema, struct: type[msgspec.Struct]) -> None:
    info = msgspec.inspect.type_info(struct)
    if not isinstance(info, msgspec.inspect.StructType) or not schema.properties:
        return
    for field in info.fields:
        kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        mapping = next((k for k in kinds if isinstance(k, msgspec.inspect.DictType)), None)
        target = _object_schema(schema.properties.get(field.encode_name))
        if mapping is None or target is None:
            continue
        target.max_properties = mapping.max_length
        target.min_properties = mapping.min_length
        if isinstance(mapping.key_type, msgspec.inspect.StrType):
            target.property_names = _string_schema(mapping.key_type)
        if isinstance(mapping.value_type, msgspec.inspect.StrType):
            target.additional_properties = _string_schema(mapping.value_type)


def _object_schema(schema: object) -> Schema | None:
    """The schema itself when it describes an object, or its object branch when it is `oneOf` (an optional)."""
    if not isinstance(schema, Schema):
        return None
    if schema.type == OpenAPIType.OBJECT:
        return schema
    return next((s for s in schema.one_of or () if isinstance(s, Schema) and s.type == OpenAPIType.OBJECT), None)


def _string_schema(kind: msgspec.inspect.StrType) -> Schema:
    return Schema(type=OpenAPIType.STRING, min_length=kind.min_length, max_length=kind.max_length, pattern=kind.pattern)
