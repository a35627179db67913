"""Console settings, from `CONSOLE_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from parley_contracts.streams import CONSOLE_SESSION_MAX_SECONDS
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.settings import LogLevel, NatsUrl, Port, SettingsError, load_settings
from parley_runtime.web.keys import split_keys

HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://", description="an http:// or https:// URL")]
# An HMAC key for the session cookie: long enough that it cannot be guessed.
Secret = Annotated[str, msgspec.Meta(min_length=32, description="at least 32 characters")]
SessionSeconds = Annotated[
    int, msgspec.Meta(ge=60, le=CONSOLE_SESSION_MAX_SECONDS, description="60 to 86400 seconds (24 hours)")
]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # Who may sign in: `KEY` or `NAME:KEY`, comma-separated (a person signs in with one of these).
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
    upstream_timeout_seconds: float = 10.0
    nats_url: NatsUrl = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds_file: str | None = None
    host: str = "0.0.0.0"
    port: Port = 8100
    log_level: LogLevel = "INFO"
    metrics_keys: str = ""

    def check(self, prefix: str) -> None:
        if not self.sign_in_keys and not self.trusted_identity_header:
            raise SettingsError(
                f"{prefix}API_KEYS holds no key and no {prefix}TRUSTED_IDENTITY_HEADER: nobody could sign in"
            )

    @property
    def sign_in_keys(self) -> dict[str, str]:
        """Each key a person may sign in with, and the name the audit trail knows it by."""
        named: dict[str, str] = {}
        for entry in split_keys(self.api_keys):
            name, sep, key = entry.partition(":")
            named[key if sep else name] = name if sep else f"key-{len(named) + 1}"
        return named

    @property
    def metrics_key_list(self) -> list[str]:
        return split_keys(self.metrics_keys)

    @property
    def nats(self) -> NatsSettings:
        return NatsSettings(
            url=self.nats_url, user=self.nats_user, password=self.nats_password, creds_file=self.nats_creds_file
        )


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "CONSOLE_", environ)
