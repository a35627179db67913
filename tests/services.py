"""Settings for any of the HTTP services with a /v1 API, for tests that treat them alike."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from parley_devstack.ports import free_port

SERVICES = ["history", "rooms", "recordings"]  # the services with a database
API_SERVICES = [*SERVICES, "insights", "webhooks"]  # every service with a keyed /v1 API of its own
API_KEY = "k"
# A read each API serves from Postgres alone.
READS = {"history": "/v1/conversations", "rooms": "/v1/rooms", "recordings": "/v1/recordings?conversation_id=c1"}


def service_settings(service: str, database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    """The service's Settings against `database_url`, with NATS on a port where nobody listens."""
    settings = importlib.import_module(f"parley_{service}.settings").Settings
    # No rate limit: these tests fire requests faster than any client should (test_auth tests the limit itself).
    common: dict[str, Any] = {"api_keys": API_KEY, "nats_url": f"nats://127.0.0.1:{free_port()}", "rate_limit": "off"}
    if "database_url" in settings.__struct_fields__:
        common |= {"database_url": database_url, "migrate_on_start": True}
    extra: dict[str, dict[str, str]] = {
        "history": {},
        "rooms": {"livekit_url": "http://127.0.0.1:9", "livekit_api_key": "k", "livekit_api_secret": "s" * 32,
                  "state_dir": str(tmp_path / "rooms")},
        "recordings": {"blob_url": (tmp_path / "blobs").as_uri()},
        "insights": {},
        "webhooks": {"secret_key": "s" * 32},
    }  # fmt: skip
    return settings(**(common | extra[service] | overrides))


def create_app(service: str, settings: Any) -> Any:
    return importlib.import_module(f"parley_{service}.app").create_app(settings)
