"""A setting out of range fails at start-up naming its variable and what it expects, for every service, rather
than later (a port uvicorn cannot bind, a URL a driver rejects on first use, no API key)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from parley_runtime.settings import SettingsError

REQUIRED = {
    "history": {"HISTORY_DATABASE_URL": "postgresql://db/parley", "HISTORY_API_KEYS": "k"},
    "rooms": {
        "ROOMS_DATABASE_URL": "postgresql://db/parley",
        "ROOMS_API_KEYS": "k",
        "ROOMS_LIVEKIT_URL": "wss://livekit.example.com",
        "ROOMS_LIVEKIT_API_KEY": "key",
        "ROOMS_LIVEKIT_API_SECRET": "secret",
    },
    "recordings": {
        "RECORDINGS_DATABASE_URL": "postgresql://db/parley",
        "RECORDINGS_API_KEYS": "k",
        "RECORDINGS_BLOB_URL": "file:///tmp/blobs",
    },
    "agent": {"AGENT_PROVIDERS": "offline"},
    "console": {
        "CONSOLE_API_KEYS": "ops:k1",
        "CONSOLE_SERVICE_KEY": "k2",
        "CONSOLE_HISTORY_URL": "http://history:8102",
        "CONSOLE_ROOMS_URL": "http://rooms:8101",
        "CONSOLE_RECORDINGS_URL": "http://recordings:8103",
        "CONSOLE_SESSION_SECRET": "s" * 32,
    },
    "insights": {"INSIGHTS_API_KEYS": "k"},
    "webhooks": {
        "WEBHOOKS_DATABASE_URL": "postgresql://db/parley",
        "WEBHOOKS_API_KEYS": "k",
        "WEBHOOKS_SECRET_KEY": "s" * 32,
    },
}


def _load(service: str, **env: str) -> object:
    return importlib.import_module(f"parley_{service}.settings").load(REQUIRED[service] | env)


@pytest.mark.parametrize(
    ("service", "variable", "value", "expected"),
    [
        ("history", "HISTORY_PORT", "99999", "a TCP port"),
        ("history", "HISTORY_DATABASE_URL", "mysql://db/parley", "a postgresql:// URL"),
        ("history", "HISTORY_DATABASE_URL", "postgres+asyncpg://db/parley", "a postgresql:// URL"),  # no driver
        ("history", "HISTORY_NATS_URL", "http://nats:4222", "nats://"),
        ("history", "HISTORY_LOG_LEVEL", "loud", "DEBUG, INFO"),
        ("history", "HISTORY_BATCH_SIZE", "0", "at least 1"),
        ("history", "HISTORY_SESSION_TIMEOUT_MINUTES", "-1", "at least 0"),
        ("history", "HISTORY_SEARCH_TIMEOUT_SECONDS", "0", "above 0"),
        ("rooms", "ROOMS_LIVEKIT_URL", "livekit.example.com", "ws(s)://"),
        ("rooms", "ROOMS_DB_POOL_SIZE", "0", "at least 1"),
        ("recordings", "RECORDINGS_UPLOAD_PART_BYTES", "1024", "5 MiB"),
        ("recordings", "RECORDINGS_RETENTION_DAYS", "-3", "at least 0"),
        ("agent", "AGENT_HISTORY_LIMIT", "500", "to 200 turns"),
        ("agent", "AGENT_NATS_URL", "nats://a:4222 nats://b:4222", "comma-separated"),
        ("agent", "AGENT_PORT", "-1", "a TCP port"),
        ("agent", "AGENT_LOAD_THRESHOLD", "1.5", "at most 1"),
        ("agent", "AGENT_LOAD_THRESHOLD", "0", "above 0"),
        ("agent", "AGENT_JOB_MEMORY_LIMIT_MB", "-1", "at least 0"),
        ("console", "CONSOLE_SESSION_SECRET", "short", "at least 32 characters"),
        ("console", "CONSOLE_SESSION_TTL_SECONDS", "999999", "86400"),
        ("console", "CONSOLE_HISTORY_URL", "history:8102", "an http://"),
        ("insights", "INSIGHTS_LLM_BASE_URL", "llm:8000/v1", "an http://"),
        ("insights", "INSIGHTS_TRANSPORT", "livekit", "provider/model"),
        ("insights", "INSIGHTS_LLM_ATTEMPTS", "0", "at least 1"),
        ("webhooks", "WEBHOOKS_SECRET_KEY", "short", "at least 32 characters"),
        ("webhooks", "WEBHOOKS_RETRY_SCHEDULE_SECONDS", "5,soon", "comma-separated seconds"),
        ("webhooks", "WEBHOOKS_RECORDINGS_URL", "recordings:8103", "an http://"),
    ],
)
def test_a_setting_out_of_range_fails_naming_the_variable_and_what_it_expects(
    service: str, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError, match=f"^{variable} is invalid") as error:
        _load(service, **{variable: value})
    assert expected in str(error.value)


@pytest.mark.parametrize("service", ["history", "rooms", "recordings", "insights", "webhooks"])
def test_api_keys_that_hold_no_key_fail_naming_the_variable(service: str) -> None:
    variable = f"{service.upper()}_API_KEYS"
    with pytest.raises(SettingsError, match=f"^{variable} holds no key"):
        _load(service, **{variable: " , "})


def test_a_public_endpoint_for_blob_storage_that_is_not_s3_fails_naming_the_variable() -> None:
    variable = "RECORDINGS_BLOB_S3_PUBLIC_ENDPOINT"
    with pytest.raises(SettingsError, match=f"^{variable} is for s3:// blob storage, not file://"):
        _load("recordings", **{variable: "https://files.example.com"})
    s3 = {"RECORDINGS_BLOB_URL": "s3://bucket/recordings", variable: "https://files.example.com"}
    assert _load("recordings", **s3).blob_s3_public_endpoint == "https://files.example.com"  # type: ignore[attr-defined]


def test_values_in_range_load() -> None:
    settings = _load(
        "history", HISTORY_NATS_URL="nats://a:4222, tls://b:4222", HISTORY_LOG_LEVEL="debug", HISTORY_PORT="65535"
    )
    assert settings.nats.servers == ["nats://a:4222", "tls://b:4222"]  # type: ignore[attr-defined]
    assert _load("agent", AGENT_HISTORY_LIMIT="0").history_limit == 0  # type: ignore[attr-defined]


def test_a_console_nobody_could_sign_in_to_fails_naming_the_variables() -> None:
    with pytest.raises(SettingsError, match="CONSOLE_API_KEYS holds no key and no CONSOLE_TRUSTED_IDENTITY_HEADER"):
        _load("console", CONSOLE_API_KEYS="")
    proxied = _load("console", CONSOLE_API_KEYS="", CONSOLE_TRUSTED_IDENTITY_HEADER="X-Forwarded-Email")
    assert proxied.trusted_identity_header == "X-Forwarded-Email"  # type: ignore[attr-defined]
    assert [k.name for k in _load("console").sign_in_keys.keys] == ["ops"]  # type: ignore[attr-defined]
    with pytest.raises(SettingsError, match=r"^CONSOLE_API_KEYS is invalid: unknown scopes \['history.delete'\]"):
        _load("console", CONSOLE_API_KEYS="ops:k1:history.delete")
    with pytest.raises(SettingsError, match="^CONSOLE_TRUSTED_IDENTITY_SCOPES names unknown scopes"):
        _load("console", CONSOLE_TRUSTED_IDENTITY_SCOPES="everything")
    with pytest.raises(SettingsError, match="CONSOLE_LIVEKIT_URL"):
        _load("console", CONSOLE_LIVEKIT_URL="livekit.example.com")


def test_the_agent_refuses_an_entity_type_it_cannot_redact_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^AGENT_REDACT is invalid: unknown entity types \['CARD'\]"):
        _load("agent", AGENT_REDACT="default,CARD")
    with pytest.raises(SettingsError, match="^AGENT_REDACT names \\['PERSON'\\]: install a spaCy English model"):
        _load("agent", AGENT_REDACT="PERSON")
    with pytest.raises(SettingsError, match="^AGENT_REDACT_MASK"):
        _load("agent", AGENT_REDACT_MASK="[{kind}]")
    assert _load("agent", AGENT_REDACT="none").redact_types == frozenset()  # type: ignore[attr-defined]


def test_insights_refuses_a_price_table_or_schema_it_cannot_use(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("currency: usd\nprices: []\n")
    with pytest.raises(SettingsError, match="^INSIGHTS_PRICES_FILE is invalid: .*three-letter code"):
        _load("insights", INSIGHTS_PRICES_FILE=str(prices))
    with pytest.raises(SettingsError, match="^INSIGHTS_SCHEMAS_FILE is invalid"):
        _load("insights", INSIGHTS_SCHEMAS_FILE=str(tmp_path / "missing.json"))
    with pytest.raises(SettingsError, match="^INSIGHTS_DEFAULT_SCHEMA 'survey' is not one of \\['call'\\]"):
        _load("insights", INSIGHTS_DEFAULT_SCHEMA="survey")


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [("HISTORY_API_KEYS", "reader:K1:history.write", "HISTORY_API_KEYS entry 1 is invalid: unknown scopes"),
     ("HISTORY_API_KEYS", "ok,x:sha256=beef", "HISTORY_API_KEYS entry 2 is invalid: sha256="),
     ("HISTORY_RATE_LIMIT", "fast", "HISTORY_RATE_LIMIT is invalid: a rate limit is RATE/s")],
)  # fmt: skip
def test_keys_and_rate_limits_that_cannot_be_used_fail_naming_the_variable(
    variable: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError) as error:
        _load("history", **{variable: value})
    assert str(error.value).startswith(says)
    scoped = _load("history", HISTORY_API_KEYS="reader:K1:history.read,admin:K2", HISTORY_RATE_LIMIT="off")
    assert scoped.rate_limit == "off"  # type: ignore[attr-defined]
