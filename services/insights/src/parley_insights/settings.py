"""Insights settings, from `INSIGHTS_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from parley_insights import prices
from parley_insights.analysis import Schema, load_schemas
from parley_runtime.settings import (
    ApiSettings,
    Port,
    Positive,
    Seconds,
    SettingsError,
    load_settings,
)

HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://", description="an http:// or https:// URL")]
Transport = Annotated[
    str, msgspec.Meta(pattern=r"^([a-z0-9_-]+/[a-z0-9_.-]+)?$", description="provider/model, e.g. livekit/cloud")
]


class Settings(ApiSettings, frozen=True, kw_only=True):
    # api_keys: who may ask for an analysis again (POST /v1/sessions/{id}/analysis)
    # The analysing model: any OpenAI-compatible chat completions API. Unset: the offline analyser.
    llm_base_url: HttpUrl | None = None
    llm_model: str = "gpt-4.1-mini"
    llm_api_key: str | None = None
    llm_timeout_seconds: Seconds = 30.0
    llm_attempts: Positive = 3
    concurrency: Positive = 4  # sessions analysed at once
    prices_file: str | None = None  # unset: the packaged example table
    schemas_file: str | None = None  # unset: the packaged `call` schema and rubric
    default_schema: str = "call"
    transport: Transport = ""  # who bills participant minutes, as provider/model in the price table (livekit/cloud)
    # History's API, to read a session again for a new analysis (the console's and operators' "analyse again").
    # Without both, that request answers 503; the analysis of every ended session needs neither.
    history_url: HttpUrl | None = None
    history_key: str | None = None
    port: Port = 8105

    def check(self, prefix: str) -> None:
        super().check(prefix)
        try:
            self.price_table()
        except prices.PriceTableError as exc:
            raise SettingsError(f"{prefix}PRICES_FILE is invalid: {exc}") from None
        try:
            schemas = self.schemas()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SettingsError(f"{prefix}SCHEMAS_FILE is invalid: {exc}") from None
        if self.default_schema not in schemas:
            raise SettingsError(f"{prefix}DEFAULT_SCHEMA {self.default_schema!r} is not one of {sorted(schemas)}")

    def price_table(self) -> prices.PriceTable:
        return prices.load(Path(self.prices_file) if self.prices_file else None)

    def schemas(self) -> dict[str, Schema]:
        return load_schemas(Path(self.schemas_file) if self.schemas_file else None)

    @property
    def transport_pair(self) -> tuple[str, str] | None:
        provider, _, model = self.transport.partition("/")
        return (provider, model) if model else None


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "INSIGHTS_", environ)
