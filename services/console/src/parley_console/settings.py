"""Console settings, from `CONSOLE_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from parley_contracts.streams import CONSOLE_SESSION_MAX_SECONDS
from parley_runtime.settings import Port, ProcessSettings, SettingsError, load_settings
from parley_runtime.web.keys import SCOPES, KeyRing, split_keys

HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://", description="an http:// or https:// URL")]
# An HMAC key for the session cookie: long enough that it cannot be guessed.
Secret = Annotated[str, msgspec.Meta(min_length=32, description="at least 32 characters")]
SessionSeconds = Annotated[
    int, msgspec.Meta(ge=60, le=CONSOLE_SESSION_MAX_SECONDS, description="60 to 86400 seconds (24 hours)")
]


WsUrl = Annotated[str, msgspec.Meta(pattern=r"^(wss?|https?)://", description="a ws://, wss:// or http(s):// URL")]
# What a person signed in through a trusted proxy may change, unless CONSOLE_TRUSTED_IDENTITY_SCOPES says more.
READ_ONLY = "history.read+rooms.read+recordings.read"


class Settings(ProcessSettings, frozen=True, kw_only=True):
    # Who may sign in: `KEY`, `NAME:KEY` or `NAME:KEY:SCOPE+SCOPE`, comma-separated, KEY possibly `sha256=<hex>`
    # (a person signs in with one of these; its scopes are what they may change: erase, end rooms, dead letters).
    api_keys: str = ""
    # The console's own key for the history, rooms and recordings APIs (a person's key never leaves the console).
    service_key: str
    history_url: HttpUrl
    rooms_url: HttpUrl
    recordings_url: HttpUrl
    session_secret: Secret  # signs the session cookie; every replica needs the same one
    session_ttl_seconds: SessionSeconds = 12 * 3600
    cookie_secure: bool = True  # the cookie only over HTTPS; `make dev` (plain HTTP on 127.0.0.1) turns it off
    # Behind an SSO proxy: the header the proxy sets to the signed-in person (e.g. X-Forwarded-Email). Set, a
    # request carrying it gets a session without a key. Only for a proxy that strips it from clients' requests.
    trusted_identity_header: str | None = None
    trusted_identity_scopes: str = READ_ONLY  # `SCOPE+SCOPE`, or `*` for everything
    # The LiveKit server as browsers reach it (wss://...). Unset, /talk offers simulated calls instead (make dev).
    livekit_url: WsUrl | None = None
    upstream_timeout_seconds: float = 10.0
    port: Port = 8100

    def check(self, prefix: str) -> None:
        try:
            keys = self.sign_in_keys
        except ValueError as exc:
            raise SettingsError(f"{prefix}API_KEYS is invalid: {exc}") from exc
        if not keys.keys and not self.trusted_identity_header:
            raise SettingsError(
                f"{prefix}API_KEYS holds no key and no {prefix}TRUSTED_IDENTITY_HEADER: nobody could sign in"
            )
        if unknown := sorted(set(self.proxy_scopes) - SCOPES):
            raise SettingsError(f"{prefix}TRUSTED_IDENTITY_SCOPES names unknown scopes {unknown}")

    @property
    def sign_in_keys(self) -> KeyRing:
        """The keys a person may sign in with: each with the name the audit trail knows it by, and its scopes."""
        return KeyRing(split_keys(self.api_keys))

    @property
    def proxy_scopes(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.trusted_identity_scopes.split("+") if s.strip())


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "CONSOLE_", environ)
