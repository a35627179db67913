"""The chart's NATS users, for a local nats-server: the accounts of `deploy/helm/nats-values.yaml`, as is.

The dev stack can run every service under its own least-privilege user, exactly as the chart deploys them,
so a permission the code needs but the chart does not grant shows up locally (as a failing demo, and as
a "Publish Violation" or "Subscription Violation" in the server's log: `violations()`), not in production.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import yaml

from parley_devstack.chart import ROOT

NATS_VALUES = ROOT / "deploy" / "helm" / "nats-values.yaml"
ADMIN = "parley-admin"  # what `parley provision` runs as (the Helm hook Job)
DLQ_COPIER = "dlq-copier"


def chart_accounts() -> dict[str, Any]:
    """`config.merge.accounts` of the NATS values: account -> users and their permissions."""
    values = yaml.safe_load(NATS_VALUES.read_text())
    return dict(values["config"]["merge"]["accounts"])


def chart_users() -> list[str]:
    return [user["user"] for account in chart_accounts().values() for user in account["users"]]


def new_passwords() -> dict[str, str]:
    return {user: secrets.token_urlsafe(18) for user in chart_users()}


def write_config(path: Path, passwords: dict[str, str], *, extra_users: tuple[dict[str, Any], ...] = ()) -> Path:
    """A nats-server config file (JSON is valid config syntax) with the chart's accounts and these passwords;
    `extra_users` join the PARLEY account (a subscriber's user, added as an operator would)."""
    accounts = chart_accounts()
    accounts["PARLEY"]["users"].extend(dict(user) for user in extra_users)
    for account in accounts.values():
        for user in account["users"]:
            user["password"] = passwords[user["user"]]  # the chart takes them from a Secret
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"accounts": accounts}, indent=2))
    path.chmod(0o600)
    return path


def violations(server_log: str) -> list[str]:
    """The lines of a nats-server log where it refused a client something its permissions do not allow."""
    return [
        line for line in server_log.splitlines() if re.search(r"\b(Publish|Subscription|Permissions) Violation\b", line)
    ]
