"""`.env.example` lists every setting every process reads, so it cannot drift from the code."""

from pathlib import Path

import msgspec
import pytest
from parley_console.settings import Settings as ConsoleSettings
from parley_insights.settings import Settings as InsightsSettings
from parley_webhooks.settings import Settings as WebhooksSettings

from parley_agent.settings import Settings as AgentSettings
from parley_history.settings import Settings as HistorySettings
from parley_recordings.settings import Settings as RecordingsSettings
from parley_rooms.settings import Settings as RoomsSettings
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.provision import ProvisionSettings

EXAMPLE = (Path(__file__).parents[1] / ".env.example").read_text()


@pytest.mark.parametrize(
    ("prefix", "settings"),
    [("HISTORY_", HistorySettings), ("ROOMS_", RoomsSettings), ("RECORDINGS_", RecordingsSettings),
     ("AGENT_", AgentSettings), ("CONSOLE_", ConsoleSettings), ("INSIGHTS_", InsightsSettings),
     ("WEBHOOKS_", WebhooksSettings), ("PARLEY_NATS_", NatsSettings), ("PARLEY_PROVISION_", ProvisionSettings)],
)  # fmt: skip
def test_every_setting_is_documented(prefix: str, settings: type[msgspec.Struct]) -> None:
    missing = [f"{prefix}{f.upper()}" for f in settings.__struct_fields__ if f"{prefix}{f.upper()}" not in EXAMPLE]
    assert not missing, f"add to .env.example: {missing}"
