"""Settings load from prefixed environment variables and fail naming the variable."""

import msgspec
import pytest

from parley_runtime.settings import SettingsError, load_settings


class Example(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    port: int = 8102
    run_consumers: bool = True


def test_values_are_converted_from_strings() -> None:
    s = load_settings(
        Example,
        "HISTORY_",
        {
            "HISTORY_DATABASE_URL": "postgresql://x",
            "HISTORY_PORT": "9000",
            "HISTORY_RUN_CONSUMERS": "false",
            "OTHER": "ignored",
        },
    )
    assert s == Example(database_url="postgresql://x", port=9000, run_consumers=False)


def test_missing_required_setting_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="^HISTORY_DATABASE_URL is required$"):
        load_settings(Example, "HISTORY_", {})


def test_invalid_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="^HISTORY_PORT is invalid"):
        load_settings(Example, "HISTORY_", {"HISTORY_DATABASE_URL": "x", "HISTORY_PORT": "eighty"})


def test_unknown_variable_with_the_prefix_is_a_typo_not_a_default() -> None:
    with pytest.raises(SettingsError, match="HISTORY_DATABSE_URL is not a known setting"):
        load_settings(Example, "HISTORY_", {"HISTORY_DATABASE_URL": "x", "HISTORY_DATABSE_URL": "y"})
