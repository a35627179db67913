"""Bearer keys: the comma-separated settings that hold them, and the check of an `Authorization` header.

Shared by the Litestar APIs (`http.api_key_guard`) and the agent's aiohttp health port, so both accept
exactly the same header and compare in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def split_keys(value: str) -> list[str]:
    """Keys from a comma-separated setting, blanks dropped."""
    return [k.strip() for k in value.split(",") if k.strip()]


def encode_keys(keys: Iterable[str]) -> list[bytes]:
    return [k.encode() for k in keys if k]


def bearer_matches(authorization: str, keys: list[bytes]) -> bool:
    """True when `authorization` is `Bearer <key>` for one of `keys`.

    Every key is compared, with no early exit, so the time taken does not say which one matched.
    """
    scheme, _, token = authorization.partition(" ")
    given = token.strip().encode()
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given, key)
    return ok and scheme.lower() == "bearer"
