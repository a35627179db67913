"""Console sessions: who signed in, carried in a signed cookie, refused once expired or signed out.

The cookie holds `<payload>.<signature>`: the payload is the session's id, the name it signed in as (a key's
name, or the identity an SSO proxy vouched for) and its expiry; the signature is HMAC-SHA256 with the console's
secret, so any replica can check it without shared state. Signing out records the session id in a KV bucket of
the console's own, which every replica watches (`Signouts`): the cookie is refused everywhere from then on, not
only in the browser that dropped it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from parley_runtime.web.keys import ApiKey, KeyRing

COOKIE = "parley_console"


class Session(msgspec.Struct, frozen=True):
    id: str
    name: str  # a key's name or the proxy's identity: the audit trail's "who" (never the key)
    expires_at: float  # Unix seconds
    via: str = "key"  # "key" or "proxy"
    # What the person may change (`history.erase`, `rooms.write`, `ops.admin`, ...): their sign-in key's scopes.
    scopes: tuple[str, ...] = ("*",)

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


class Signouts(Protocol):
    """The sessions signed out before their expiry, shared by the console's replicas."""

    def __contains__(self, session_id: object) -> bool: ...

    async def add(self, session_id: str) -> None: ...


@dataclass
class LocalSignouts:
    """Signouts of this replica alone (tests, and while NATS is out of reach)."""

    ids: set[str] = field(default_factory=set)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self.ids

    async def add(self, session_id: str) -> None:
        self.ids.add(session_id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SessionSigner:
    secret: bytes
    ttl_seconds: int

    def issue(
        self, name: str, *, via: str = "key", scopes: Iterable[str] = ("*",), now: float | None = None
    ) -> tuple[Session, str]:
        at = time.time() if now is None else now
        session = Session(
            id=secrets.token_urlsafe(16), name=name, expires_at=at + self.ttl_seconds, via=via, scopes=tuple(scopes)
        )
        payload = _b64(msgspec.json.encode(session))
        return session, f"{payload}.{self._sign(payload)}"

    def read(self, cookie: str, signouts: Signouts, *, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None when it is forged, expired or signed out."""
        payload, _, signature = cookie.partition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            session = msgspec.json.decode(_unb64(payload), type=Session)
        except (msgspec.DecodeError, ValueError):
            return None
        expired = session.expires_at <= (time.time() if now is None else now)
        return None if expired or session.id in signouts else session

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.secret, payload.encode(), hashlib.sha256).digest())


def sign_in_key(given: str, keys: KeyRing) -> ApiKey | None:
    """The sign-in key `given` is (its name and scopes), found by its hash in constant time; None if none."""
    return keys.find(f"Bearer {given}") if given.strip() == given else None
