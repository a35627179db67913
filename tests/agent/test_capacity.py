"""A worker's capacity (CPU load threshold, warm processes, per-call memory) comes from its settings."""

from __future__ import annotations

import pytest

from parley_agent.settings import load
from parley_agent.worker import SETTINGS_ENV, WORKER_PID_ENV, create_server

LIVE = {
    "AGENT_PROVIDERS": "offline",
    "AGENT_LIVEKIT_URL": "ws://127.0.0.1:7880",
    "AGENT_LIVEKIT_API_KEY": "key",
    "AGENT_LIVEKIT_API_SECRET": "secret",
}


@pytest.fixture(autouse=True)
def _restore_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """create_server hands its settings to job processes through the environment: restored after each test."""
    monkeypatch.setenv(SETTINGS_ENV, "")
    monkeypatch.setenv(WORKER_PID_ENV, "")


def _capacity(env: dict[str, str]) -> tuple[object, ...]:
    server = create_server(load(LIVE | env))
    return server._load_threshold, server._num_idle_processes, server._job_memory_warn_mb, server._job_memory_limit_mb


def test_the_worker_takes_its_capacity_from_the_settings() -> None:
    env = {
        "AGENT_LOAD_THRESHOLD": "0.5",
        "AGENT_IDLE_PROCESSES": "1",
        "AGENT_JOB_MEMORY_WARN_MB": "600",
        "AGENT_JOB_MEMORY_LIMIT_MB": "1500",
    }
    assert _capacity(env) == (0.5, 1, 600, 1500)


def test_unset_capacity_settings_keep_livekits_production_defaults() -> None:
    threshold, idle, warn, limit = _capacity({})
    assert (threshold, warn, limit) == (0.7, 1000, 0)
    assert type(idle).__name__ == "ServerEnvOption"  # LiveKit's own: the CPU count in production
