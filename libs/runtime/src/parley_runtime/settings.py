"""Load a service's settings struct from environment variables with one prefix, validated at start-up.

A missing required setting or a value of the wrong type fails with `SettingsError` naming the variable
(`HISTORY_DATABASE_URL is required`), so a misconfigured pod dies at once with a readable message.
Settings are passed into `create_app(settings)`; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import msgspec
import msgspec.inspect

from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.web.keys import split_keys

S = TypeVar("S", bound=msgspec.Struct)

_PATH = re.compile(r"`\$\.(\w+)`")

# Constrained setting types: a value out of range fails at start-up naming its variable, not later (a port
# uvicorn cannot bind, a pool of 0, a URL a driver rejects on first use). The description is the error's hint.
Port = Annotated[int, msgspec.Meta(ge=0, le=65535, description="a TCP port, 0 to 65535 (0: any free one)")]
Positive = Annotated[int, msgspec.Meta(ge=1, description="an integer of at least 1")]
NonNegative = Annotated[int, msgspec.Meta(ge=0, description="an integer of at least 0")]
Seconds = Annotated[float, msgspec.Meta(gt=0, description="a number of seconds above 0")]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0, description="a number of at least 0")]
PostgresUrl = Annotated[
    str, msgspec.Meta(pattern=r"^(postgresql(\+asyncpg)?|postgres)://", description="a postgresql:// URL")
]
NatsUrl = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^((nats|tls|ws|wss)://[^,\s]+)(\s*,\s*(nats|tls|ws|wss)://[^,\s]+)*$",
        description="nats://, tls://, ws:// or wss:// URLs, comma-separated",
    ),
]
LiveKitUrl = Annotated[str, msgspec.Meta(pattern=r"^(https?|wss?)://", description="an http(s):// or ws(s):// URL")]
LogLevel = Annotated[
    str,
    msgspec.Meta(
        pattern=r"(?i)^(debug|info|warning|error|critical)$", description="DEBUG, INFO, WARNING, ERROR or CRITICAL"
    ),
]


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
        settings = msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        missing = re.search(r"missing required field `(\w+)`", message)
        if missing:
            raise SettingsError(f"{prefix}{missing.group(1).upper()} is required") from None
        path = _PATH.search(message)
        var = f"{prefix}{path.group(1).upper()}" if path else prefix + "*"
        hint = _hint(cls, path.group(1)) if path else None
        raise SettingsError(f"{var} is invalid: {message}" + (f" (expected {hint})" if hint else "")) from None
    check = getattr(settings, "check", None)
    if check is not None:
        check(prefix)  # rules across fields, or beyond one field's type: raises SettingsError
    return settings


def _hint(cls: type[msgspec.Struct], name: str) -> str | None:
    """The description of the field's constrained type, if it has one."""
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    field = next((f for f in info.fields if f.name == name), None)
    if field is None:
        return None
    kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
    for kind in kinds:
        if isinstance(kind, msgspec.inspect.Metadata) and kind.extra_json_schema:
            return str(kind.extra_json_schema.get("description") or "") or None
    return None


DEFAULT_RATE_LIMIT = "100/s,burst=200"  # far above what a person or an integration does, below a runaway loop


def check_api_keys(prefix: str, keys: list[str], rate_limit: str) -> None:
    """`<P>API_KEYS` holds at least one key and every entry parses; `<P>RATE_LIMIT` parses."""
    from parley_runtime.web.access import RateLimit
    from parley_runtime.web.keys import parse_key

    if not keys:
        raise SettingsError(f"{prefix}API_KEYS holds no key: every /v1 request would be refused")
    for n, entry in enumerate(keys, start=1):
        try:
            parse_key(entry)
        except ValueError as exc:
            raise SettingsError(f"{prefix}API_KEYS entry {n} is invalid: {exc}") from None
    try:
        RateLimit.parse(rate_limit)
    except ValueError as exc:
        raise SettingsError(f"{prefix}RATE_LIMIT is invalid: {exc}") from None


class ProcessSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every Parley process reads: NATS, where it listens (health and /metrics at least), its scrape keys."""

    metrics_keys: str = ""  # comma-separated scrape keys: /metrics only (Prometheus), never the API
    nats_url: NatsUrl = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds_file: str | None = None
    host: str = "0.0.0.0"
    port: Port = 8000
    log_level: LogLevel = "INFO"

    @property
    def metrics_key_list(self) -> list[str]:
        return split_keys(self.metrics_keys)

    @property
    def nats(self) -> NatsSettings:
        return NatsSettings(
            url=self.nats_url, user=self.nats_user, password=self.nats_password, creds_file=self.nats_creds_file
        )


class ApiSettings(ProcessSettings, frozen=True, kw_only=True):
    """What every Parley service with a keyed API reads: `ProcessSettings`, its API keys and rate limit."""

    api_keys: str  # comma-separated bearer keys
    rate_limit: str = DEFAULT_RATE_LIMIT  # per key and replica: RATE/s[,burst=N], or off

    def check(self, prefix: str) -> None:
        check_api_keys(prefix, self.api_key_list, self.rate_limit)

    @property
    def api_key_list(self) -> list[str]:
        return split_keys(self.api_keys)


class ServiceSettings(ApiSettings, frozen=True, kw_only=True):
    """An API service that keeps tables: `ApiSettings` and its database."""

    database_url: PostgresUrl
    migrate_on_start: bool = True  # the Helm hook Job migrates; pods then start with this off
    db_pool_size: Positive = 10
