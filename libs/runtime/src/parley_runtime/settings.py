"""Load a service's settings struct from environment variables with one prefix, validated at start-up.

A missing required setting or a value of the wrong type fails with `SettingsError` naming the variable
(`HISTORY_DATABASE_URL is required`), so a misconfigured pod dies at once with a readable message.
Settings are passed into `create_app(settings)`; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from parley_runtime.connection import NatsSettings
from parley_runtime.keys import split_keys

S = TypeVar("S", bound=msgspec.Struct)

_PATH = re.compile(r"`\$\.(\w+)`")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the environment variable."""


def load_settings(cls: type[S], prefix: str, environ: Mapping[str, str] | None = None) -> S:
    """Build `cls` from `<PREFIX><FIELD>` variables (case-insensitive field names, lax type conversion).

    Variables with the prefix that match no field are rejected, so a typo does not silently fall back
    to a default.
    """
    env = os.environ if environ is None else environ
    fields = {f.lower() for f in cls.__struct_fields__}
    raw: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(prefix):
            continue
        name = key.removeprefix(prefix).lower()
        if name not in fields:
            raise SettingsError(f"{key} is not a known setting (known: {', '.join(sorted(fields))})")
        raw[name] = value
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        missing = re.search(r"missing required field `(\w+)`", message)
        if missing:
            raise SettingsError(f"{prefix}{missing.group(1).upper()} is required") from None
        path = _PATH.search(message)
        var = f"{prefix}{path.group(1).upper()}" if path else prefix + "*"
        raise SettingsError(f"{var} is invalid: {message}") from None


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every Parley HTTP service reads: its database, its API keys, NATS, where to listen."""

    database_url: str
    api_keys: str  # comma-separated bearer keys
    metrics_keys: str = ""  # comma-separated scrape keys: /metrics only (Prometheus), never the API
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds_file: str | None = None
    host: str = "0.0.0.0"
    port: int = 8000
    log_level: str = "INFO"
    migrate_on_start: bool = True  # the Helm hook Job migrates; pods then start with this off
    db_pool_size: int = 10

    @property
    def api_key_list(self) -> list[str]:
        return split_keys(self.api_keys)

    @property
    def metrics_key_list(self) -> list[str]:
        return split_keys(self.metrics_keys)

    @property
    def nats(self) -> NatsSettings:
        return NatsSettings(
            url=self.nats_url, user=self.nats_user, password=self.nats_password, creds_file=self.nats_creds_file
        )
