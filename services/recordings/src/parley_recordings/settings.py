"""recordings settings, from `RECORDINGS_*` environment variables."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from parley_runtime.settings import load_settings


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "0.0.0.0"
    port: int = 8103
    log_level: str = "INFO"
    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str | None = None
    api_keys: str | None = None
    blob_url: str | None = None


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "RECORDINGS_", environ)
