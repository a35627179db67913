"""Bearer keys: the comma-separated settings that hold them, and the check of an `Authorization` header.

Shared by the Litestar APIs (`http.api_key_guard`) and the agent's aiohttp health port, so both accept
exactly the same header and compare in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass


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


# What a key may do. `*` is everything; a service's routes each require one of these.
SCOPES = frozenset({
    "rooms.read", "rooms.write", "tokens.create", "history.read", "history.erase", "recordings.read",
    "webhooks.admin", "ops.admin", "*",
})  # fmt: skip


@dataclass(frozen=True)
class ApiKey:
    """A configured key: its name (what logs and traces show), the SHA-256 of its secret, its scopes."""

    name: str
    digest: bytes
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


def parse_key(entry: str) -> ApiKey:
    """`KEY`, `NAME:KEY` or `NAME:KEY:SCOPE+SCOPE`; KEY may be `sha256=<64 hex>`, so the secret is not in the
    setting. Without scopes a key has every scope; without a name it is named after its hash."""
    parts = entry.strip().split(":")
    if len(parts) > 3 or not all(parts):
        raise ValueError("an entry is KEY, NAME:KEY or NAME:KEY:SCOPE+SCOPE (no empty part, no ':' in a key)")
    secret = parts[1] if len(parts) > 1 else parts[0]
    if secret.startswith("sha256="):
        try:
            digest = bytes.fromhex(secret.removeprefix("sha256="))
        except ValueError:
            raise ValueError("sha256= takes the key's SHA-256 in hex") from None
        if len(digest) != 32:
            raise ValueError("sha256= takes the key's SHA-256 in hex (64 characters)")
    else:
        digest = hashlib.sha256(secret.encode()).digest()
    scopes = frozenset(parts[2].split("+")) if len(parts) == 3 else frozenset({"*"})
    if unknown := sorted(scopes - SCOPES):
        raise ValueError(f"unknown scopes {unknown}; scopes are {sorted(SCOPES)}")
    name = parts[0] if len(parts) > 1 else f"key-{digest.hex()[:8]}"
    return ApiKey(name, digest, scopes)


class KeyRing:
    """The keys of one setting, found from an `Authorization` header by their hashes, in constant time."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.keys = [parse_key(e) for e in entries if e.strip()]

    def find(self, authorization: str) -> ApiKey | None:
        scheme, _, token = authorization.partition(" ")
        given = hashlib.sha256(token.strip().encode()).digest()
        found = None
        for key in self.keys:  # every key compared, no early exit: the time says nothing of which matched
            if hmac.compare_digest(given, key.digest):
                found = key
        return found if scheme.lower() == "bearer" and token.strip() else None
