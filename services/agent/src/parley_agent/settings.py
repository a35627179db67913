"""Agent settings, from `AGENT_*` environment variables (see .env.example).

`providers=live` (the default) needs the provider keys and fails at start-up naming the missing
variable; `providers=local` runs real speech offline (models shipped in wheels) with a scripted LLM or any
OpenAI-compatible server; `providers=offline` runs a scripted LLM and a tone TTS with no keys at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from parley_agent.redaction.policy import NER_TYPES, ner_model, parse_types
from parley_contracts.history import RECENT_MAX_LIMIT
from parley_runtime.settings import (
    LiveKitUrl,
    NonNegative,
    Port,
    Positive,
    ProcessSettings,
    Seconds,
    SettingsError,
    load_settings,
)

PREFIX = "AGENT_"
HistoryLimit = Annotated[
    int, msgspec.Meta(ge=0, le=RECENT_MAX_LIMIT, description=f"0 (no history) to {RECENT_MAX_LIMIT} turns")
]
LoadThreshold = Annotated[float, msgspec.Meta(gt=0, le=1, description="a share of the CPU, above 0 and at most 1")]


class Settings(ProcessSettings, frozen=True, kw_only=True):
    agent_name: str = "parley-agent"
    providers: Literal["live", "local", "offline"] = "live"
    # LiveKit server (the worker registers there); also read from LIVEKIT_URL/KEY/SECRET.
    livekit_url: LiveKitUrl | None = None
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = None
    # live providers
    deepgram_api_key: str | None = None
    deepgram_model: str = "nova-3"
    elevenlabs_api_key: str | None = None
    elevenlabs_voice_id: str | None = None
    elevenlabs_model: str = "eleven_flash_v2_5"
    llm_base_url: str | None = None  # any OpenAI-compatible endpoint: OpenAI, Azure, Ollama, vLLM
    llm_api_key: str | None = None
    llm_model: str = "gpt-4.1-mini"
    instructions: str | None = None  # default prompt; the room metadata may override it per call
    # What the agent is told to say first ("" says nothing first); a room's `greeting` replaces it per call.
    greeting: str | None = None
    # behaviour
    history_limit: HistoryLimit = 20
    history_timeout_seconds: Seconds = 0.3
    # Taking over a lost agent's call: the interrupted session's turns, within this budget.
    resume_timeout_seconds: Seconds = 1.0
    # One agent per room (parley_agent.lease): renewed this often; a holder silent this long is gone.
    lease_renew_seconds: Seconds = 2.0
    lease_stale_seconds: Seconds = 6.0
    record_audio: bool = True
    state_dir: str = ".parley/agent"  # outbox spill files and audio awaiting upload; a volume in k8s
    outbox_max_events: Positive = 10_000
    drain_timeout_seconds: Seconds = 5.0
    recording_upload_timeout_seconds: Seconds = 20.0
    # capacity of a worker (LiveKit's own defaults; `simulate` ignores them)
    load_threshold: LoadThreshold = 0.7  # above this CPU load the worker tells LiveKit it takes no new call
    idle_processes: NonNegative | None = None  # job processes kept warm for the next calls; unset: the CPU count
    job_memory_warn_mb: NonNegative = 1000  # a call's process above this is logged (repeatedly); 0: never
    job_memory_limit_mb: NonNegative = 0  # a call's process above this is killed, its call alone; 0: no limit
    # Personal data masked in everything the call emits (parley_agent.redaction): entity types, comma-separated,
    # `default` (cards, IBANs, phone numbers, e-mail and IP addresses, US SSNs), `default,US_PASSPORT`, or `none`.
    redact: str = "default"
    redact_mask: str = "[{type}]"  # what replaces a value; `{type}` is its entity type
    redact_rooms_may_remove: bool = False  # a room's metadata may add types; remove them only if this is true
    port: Port = 8081  # health and /metrics (its scrape keys, `metrics_keys`: unset, /metrics refuses all)

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)

    @property
    def redact_types(self) -> frozenset[str]:
        return parse_types(self.redact)

    def check(self, prefix: str) -> None:
        try:
            types = self.redact_types
        except ValueError as exc:
            raise SettingsError(f"{prefix}REDACT is invalid: {exc}") from exc
        if types & set(NER_TYPES) and not ner_model():
            raise SettingsError(f"{prefix}REDACT names {sorted(types & set(NER_TYPES))}: install a spaCy English model")
        try:
            self.redact_mask.format(type="X")
        except (KeyError, IndexError, ValueError) as exc:
            raise SettingsError(f"{prefix}REDACT_MASK may hold `{{type}}` and no other placeholder") from exc

    def require_live_keys(self) -> None:
        """Fail fast, naming the variable, when a live provider has no key."""
        if self.providers != "live":
            return
        if not self.deepgram_api_key:
            raise SettingsError(f"{PREFIX}DEEPGRAM_API_KEY is required with {PREFIX}PROVIDERS=live")
        if not self.elevenlabs_api_key:
            raise SettingsError(f"{PREFIX}ELEVENLABS_API_KEY is required with {PREFIX}PROVIDERS=live")
        if not self.llm_api_key and not self.llm_base_url:
            raise SettingsError(
                f"{PREFIX}LLM_API_KEY is required with {PREFIX}PROVIDERS=live (or set {PREFIX}LLM_BASE_URL)"
            )

    def require_livekit(self) -> None:
        for field in ("livekit_url", "livekit_api_key", "livekit_api_secret"):
            if not getattr(self, field):
                raise SettingsError(f"{PREFIX}{field.upper()} (or {field.upper()}) is required to run the worker")


def load(environ: Mapping[str, str] | None = None) -> Settings:
    import os

    env = dict(os.environ if environ is None else environ)
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        if env.get(name) and not env.get(f"{PREFIX}{name}"):
            env[f"{PREFIX}{name}"] = env[name]
    settings = load_settings(Settings, PREFIX, env)
    settings.require_live_keys()
    return settings
