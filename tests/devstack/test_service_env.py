"""What `make dev` gives each service: its defaults, the operator's settings over them, its wiring over both."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley_devstack.stack import SERVICES, service_env

STACK = {
    "PARLEY_NATS_URL": "nats://127.0.0.1:4222", "PARLEY_DATABASE_URL": "postgresql://127.0.0.1/parley",
    "PARLEY_API_KEY": "dev-key", "PARLEY_LIVEKIT_URL": "http://127.0.0.1:7880", "PARLEY_LIVEKIT_API_KEY": "k",
    "PARLEY_LIVEKIT_API_SECRET": "s", "PARLEY_HISTORY_URL": "http://127.0.0.1:8102",
    "PARLEY_ROOMS_URL": "http://127.0.0.1:8101", "PARLEY_RECORDINGS_URL": "http://127.0.0.1:8103",
}  # fmt: skip


def _spec(name: str):  # type: ignore[no-untyped-def]
    return next(s for s in SERVICES if s.name == name)


def test_scoped_keys_from_the_environment_join_the_dev_key_and_other_settings_replace_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HISTORY_API_KEYS", "reader:K1:history.read,admin:K2")
    monkeypatch.setenv("HISTORY_RATE_LIMIT", "5/s")
    monkeypatch.setenv("ROOMS_MAX_ACTIVE_ROOMS_PER_USER", "2")
    monkeypatch.setenv("HISTORY_PORT", "1")  # where it listens belongs to the stack
    history = service_env(_spec("history"), 9102, STACK, tmp_path)
    assert history["HISTORY_API_KEYS"] == "dev-key,reader:K1:history.read,admin:K2"
    assert history["HISTORY_RATE_LIMIT"] == "5/s" and history["HISTORY_PORT"] == "9102"
    rooms = service_env(_spec("rooms"), 9101, STACK, tmp_path)
    assert rooms["ROOMS_MAX_ACTIVE_ROOMS_PER_USER"] == "2" and rooms["ROOMS_API_KEYS"] == "dev-key"
    webhooks = service_env(_spec("webhooks"), 9104, STACK, tmp_path)
    assert webhooks["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] == "true" and len(webhooks["WEBHOOKS_SECRET_KEY"]) >= 32
