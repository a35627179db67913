"""Real servers for every test: see parley_devstack.testing for where they come from."""

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from parley_runtime.messaging.provision import provision
from tests.support.ast_turns import serialize_ast_construction

pytest_plugins = ["parley_devstack.testing"]
serialize_ast_construction()  # before any test starts a thread


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[Client]:
    """A client of this test's NATS server, with Parley's streams, consumers and buckets provisioned."""
    client = await nats.connect(nats_url)
    await provision(client.jetstream())
    yield client
    await client.close()
