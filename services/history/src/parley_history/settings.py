"""History service settings, from `HISTORY_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from parley_runtime.connection import NatsSettings
from parley_runtime.settings import load_settings


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    api_keys: str  # comma-separated bearer keys
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds_file: str | None = None
    host: str = "0.0.0.0"
    port: int = 8102
    log_level: str = "INFO"
    run_consumer: bool = True  # Helm can split API pods from consumer pods
    run_recent_service: bool = True
    migrate_on_start: bool = True  # the Helm hook Job migrates; pods then start with this off
    batch_size: int = 1000
    consumer_concurrency: int = 2
    db_pool_size: int = 10
    recent_timeout_seconds: float = 1.0
    max_request_body_bytes: int = 64 * 1024

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def nats(self) -> NatsSettings:
        return NatsSettings(
            url=self.nats_url, user=self.nats_user, password=self.nats_password, creds_file=self.nats_creds_file
        )


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "HISTORY_", environ)
