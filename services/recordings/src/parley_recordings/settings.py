"""Recordings service settings, from `RECORDINGS_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from parley_runtime.connection import NatsSettings
from parley_runtime.settings import load_settings


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    api_keys: str  # comma-separated bearer keys
    # Where transcripts and audio go: file:///path (default in make dev), s3://bucket/prefix,
    # az://container/prefix, gs://bucket/prefix. Credentials for the cloud ones below or from the
    # provider's standard environment variables.
    blob_url: str
    blob_s3_endpoint: str | None = None  # S3-compatible servers (SeaweedFS, MinIO, moto)
    blob_s3_region: str | None = None
    blob_access_key_id: str | None = None
    blob_secret_access_key: str | None = None
    blob_allow_http: bool = False
    retention_days: int = 0  # 0 keeps recordings forever
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds_file: str | None = None
    host: str = "0.0.0.0"
    port: int = 8103
    log_level: str = "INFO"
    run_consumer: bool = True
    migrate_on_start: bool = True
    db_pool_size: int = 5
    upload_part_bytes: int = 5 * 1024 * 1024
    upload_concurrency: int = 2  # memory for one upload is about parts x concurrency

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def nats(self) -> NatsSettings:
        return NatsSettings(
            url=self.nats_url, user=self.nats_user, password=self.nats_password, creds_file=self.nats_creds_file
        )


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "RECORDINGS_", environ)
