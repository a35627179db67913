"""Points in time given in a query string: RFC 3339 only, so `?until=0.5` is a 400 and not the epoch.

Litestar would read a bare number as a Unix timestamp, which the OpenAPI document (`date-time`) does not allow; the
endpoints take the text (`format: date-time` in the document) and parse it here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar.exceptions import ValidationException
from litestar.params import QueryParameter


def instant_parameter(description: str, query: str | None = None) -> Any:
    """A query parameter holding an RFC 3339 date-time with its offset (e.g. `2026-12-07T09:00:00Z`); `query`
    names it in the URL when that name is no Python identifier (`from`)."""
    return QueryParameter(
        name=query, format="date-time", max_length=40, description=f"{description} (RFC 3339, with offset)"
    )


def parse_instant(value: str | None, name: str) -> datetime | None:
    """The instant `value` names, in UTC; None stays None. Anything else is a 400 naming the parameter."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise ValidationException(detail=f"{name} is not an RFC 3339 date-time: {exc}") from exc
    if parsed.tzinfo is None:
        raise ValidationException(detail=f"{name} needs an offset (Z or +hh:mm)")
    return parsed.astimezone(UTC)
