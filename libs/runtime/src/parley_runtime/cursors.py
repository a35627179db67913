"""Opaque pagination cursors: the sort key of the last row of a page, as URL-safe base64 JSON.

Every list endpoint pages by keyset with these, so a cursor stays valid while rows are inserted.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import msgspec


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
    """A timestamp part of a cursor, which must carry its time zone."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidCursor("malformed cursor") from exc
    if parsed.tzinfo is None:
        raise InvalidCursor("malformed cursor")
    return parsed
