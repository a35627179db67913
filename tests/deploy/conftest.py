"""A nats-server running the chart's NATS accounts, a client logged in as each user, and how to find a
component's objects among the chart's rendered ones."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from parley_devstack import nats_accounts
from parley_devstack.nats_server import NatsServer
from parley_runtime.messaging.provision import provision

SERVICE_USERS = ("parley-admin", "agent", "history", "recordings")


def by_component(objects: list[dict[str, Any]], kind: str, component: str) -> list[dict[str, Any]]:
    """The rendered objects of `kind` that belong to one component (by the label every Parley object carries)."""
    return [o for o in objects if o["kind"] == kind
            and o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component]  # fmt: skip


@pytest.fixture
def extra_nats_users() -> tuple[dict[str, Any], ...]:
    """Users added to the chart's account, as an operator would (a module overrides this)."""
    return ()


@pytest.fixture
def secured(
    tmp_path: Path, extra_nats_users: tuple[dict[str, Any], ...]
) -> Iterator[tuple[NatsServer, dict[str, str]]]:
    passwords = nats_accounts.new_passwords() | {u["user"]: secrets.token_urlsafe(18) for u in extra_nats_users}
    config = nats_accounts.write_config(tmp_path / "nats.conf", passwords, extra_users=extra_nats_users)
    server = NatsServer(tmp_path / "nats", config=config, log_path=tmp_path / "nats.log").start()
    yield server, passwords
    server.kill()


@pytest.fixture
async def login(
    secured: tuple[NatsServer, dict[str, str]], extra_nats_users: tuple[dict[str, Any], ...]
) -> AsyncIterator[dict[str, Client]]:
    """A client per user (the services' and the extra ones), with the streams provisioned."""
    server, passwords = secured
    clients: dict[str, Client] = {}

    async def quiet(_: Exception) -> None:  # the refusals the tests provoke are the point
        return None

    for user in (*SERVICE_USERS, *(u["user"] for u in extra_nats_users)):
        clients[user] = await nats.connect(server.url, user=user, password=passwords[user], error_cb=quiet)
    await provision(clients["parley-admin"].jetstream())
    yield clients
    for client in clients.values():
        await client.close()
