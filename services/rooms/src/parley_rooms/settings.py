"""Rooms service settings, from `ROOMS_*` environment variables (see .env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from parley_runtime.settings import LiveKitUrl, NonNegative, Port, Positive, Seconds, ServiceSettings, load_settings

PREFIX = "ROOMS_"


class Settings(ServiceSettings, frozen=True, kw_only=True):
    livekit_url: LiveKitUrl  # http(s):// or ws(s):// of the LiveKit server; also read from LIVEKIT_URL
    livekit_api_key: str
    livekit_api_secret: str
    agent_name: str = "parley-agent"
    port: Port = 8101
    run_consumer: bool = True
    livekit_timeout_seconds: Seconds = 5.0
    empty_timeout_seconds: Positive = 300  # LiveKit closes a room nobody joined
    departure_timeout_seconds: NonNegative = 20
    token_ttl_seconds: Positive = 3600
    max_token_ttl_seconds: Positive = 24 * 3600
    max_request_body_bytes: Positive = 64 * 1024
    state_dir: str = ".parley/rooms"  # where unpublished events wait while NATS is down
    retention_days: NonNegative = 0  # rooms with no activity for this long are deleted, hourly; 0 keeps them
    idempotency_key_hours: Positive = 24  # how long an Idempotency-Key answers with the room it created
    # Agent failover (`failover`): an agent that left a room its caller is still in, without ending its session,
    # is dispatched again after this many seconds (0: never; LiveKit Cloud resumes such jobs itself), at most
    # `agent_failover_max` times per room.
    agent_failover_seconds: NonNegative = 5
    agent_failover_max: NonNegative = 3
    # Call limits: active rooms in the whole deployment and per user (0: none). Over either, creating a room is
    # refused with 429 and nothing is created in LiveKit.
    max_active_rooms: NonNegative = 0
    max_active_rooms_per_user: NonNegative = 0

    @property
    def outbox_spill(self) -> Path:
        return Path(self.state_dir) / "outbox.jsonl"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        if env.get(name) and not env.get(f"{PREFIX}{name}"):
            env[f"{PREFIX}{name}"] = env[name]
    return load_settings(Settings, PREFIX, env)
