"""History service settings, from `HISTORY_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping

from parley_history.known import DEFAULT_MAX_ENTRIES
from parley_runtime.settings import (
    NonNegative,
    NonNegativeFloat,
    Port,
    Positive,
    Seconds,
    ServiceSettings,
    load_settings,
)


class Settings(ServiceSettings, frozen=True, kw_only=True):
    port: Port = 8102
    run_consumer: bool = True  # Helm can split API pods from consumer pods
    run_recent_service: bool = True
    batch_size: Positive = 1000
    consumer_concurrency: Positive = 2
    known_rows_max: Positive = DEFAULT_MAX_ENTRIES  # conversations (and sessions) remembered as written
    recent_timeout_seconds: Seconds = 1.0
    # Ranking costs time per matching turn; a search for a common word over every conversation can take
    # seconds on millions of turns, holding a pooled connection meanwhile. It is cut off here with a 503.
    search_timeout_seconds: Seconds = 3.0
    max_request_body_bytes: Positive = 64 * 1024
    retention_days: NonNegative = 0  # transcripts older than this are deleted, hourly; 0 keeps them forever
    # An open session nothing has arrived of for this long lost its agent: history ends it (lost_sessions).
    session_timeout_minutes: NonNegativeFloat = 120  # 0: never


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "HISTORY_", environ)
