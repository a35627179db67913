"""Webhooks settings, from `WEBHOOKS_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from parley_runtime.settings import Port, Positive, Seconds, ServiceSettings, SettingsError, load_settings
from parley_webhooks.policy import SCHEDULE

HttpUrl = Annotated[str, msgspec.Meta(pattern=r"^https?://", description="an http:// or https:// URL")]


class Settings(ServiceSettings, frozen=True, kw_only=True):
    port: Port = 8104
    # Encrypts the endpoints' signing secrets at rest (AES-256-GCM, key derived from it): 32+ characters, the
    # same on every replica, kept like a database password. Changing it makes the stored secrets unreadable.
    secret_key: Annotated[str, msgspec.Meta(min_length=32, description="at least 32 characters")]
    # Loopback, private, link-local and cloud metadata addresses are refused as targets, at every connect.
    allow_private_targets: bool = False
    timeout_seconds: Seconds = 15.0  # an endpoint that does not answer within it is retried
    concurrency: Positive = 32  # deliveries in flight per replica
    per_endpoint_concurrency: Positive = 4  # ... to one endpoint, so a slow receiver holds up no other
    # A call.report waits this long after the session ended for its transcript and analysis, then goes with
    # what is there (the missing parts named).
    report_wait_seconds: Seconds = 300.0
    disable_after_hours: Seconds = 72.0  # an endpoint failing every delivery this long is disabled
    # Seconds before each retry (a fifth of jitter either way); one more attempt than entries in all.
    retry_schedule_seconds: Annotated[
        str, msgspec.Meta(pattern=r"^\d+(\.\d+)?(,\s*\d+(\.\d+)?)*$", description="comma-separated seconds")
    ] = ",".join(str(s) for s in SCHEDULE)
    # Recordings' API, for the report's links to the transcript and audio (signed where the store can).
    recordings_url: HttpUrl | None = None
    recordings_key: str | None = None
    link_seconds: Positive = 3600  # the life of a signed link in a report
    batch_size: Positive = 200
    max_request_body_bytes: Positive = 64 * 1024

    def check(self, prefix: str) -> None:
        super().check(prefix)
        if bool(self.recordings_url) != bool(self.recordings_key):
            raise SettingsError(f"{prefix}RECORDINGS_URL and {prefix}RECORDINGS_KEY go together")

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        return tuple(float(s) for s in self.retry_schedule_seconds.split(","))


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "WEBHOOKS_", environ)
