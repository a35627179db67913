"""Opaque pagination cursors: the sort key of the last row of a page, as URL-safe base64 JSON.

Every list endpoint pages by keyset with these, so a cursor stays valid while rows are inserted.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.params import Parameter

CURSOR_MAX_LENGTH = 512
# URL-safe base64 without padding: what `encode_cursor` writes. The document states it, so a client (or a fuzzer)
# can tell a cursor from free text; any other string is refused with a 400 before it is decoded.
CURSOR_PATTERN = rf"^[A-Za-z0-9_-]{{1,{CURSOR_MAX_LENGTH}}}$"
CURSOR_PARAMETER = Parameter(
    pattern=CURSOR_PATTERN,
    max_length=CURSOR_MAX_LENGTH,
    description="The `next_cursor` of the previous page, as it was given (opaque: URL-safe base64). A cursor this"
    " service did not issue is refused (400).",
)


class InvalidCursor(ValueError):
    """A cursor that this service did not issue."""


def encode_cursor(*parts: object) -> str:
    raw = msgspec.json.encode([p.isoformat() if isinstance(p, datetime) else p for p in parts])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[Any]:
    """The cursor's `n` parts; raises InvalidCursor for anything this module did not produce."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = msgspec.json.decode(raw)
    except (ValueError, msgspec.DecodeError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if not isinstance(parts, list) or len(parts) != n:
        raise InvalidCursor("malformed cursor")
    return parts


def cursor_time(value: object) -> datetime:
    """A timestamp part of a cursor, which must carry its time zone, in UTC."""
    try:
        parsed = datetime.fromisoformat(str(value))
        # A forged 0001-01-01T00:00+14:00 has no UTC time: caught here, where the driver would fail on it.
        utc = parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor("malformed cursor") from exc
    if utc is None:
        raise InvalidCursor("malformed cursor")
    return utc


def cursor_text(value: object) -> str:
    """A text part of a cursor (an id): a string Postgres can compare (no NUL)."""
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidCursor("malformed cursor")
    return value


def cursor_int(value: object) -> int:
    """An integer part of a cursor (a seq): one a Postgres `integer` holds (JSON `true` is no integer)."""
    if type(value) is not int or not -(2**31) <= value < 2**31:
        raise InvalidCursor("malformed cursor")
    return value
